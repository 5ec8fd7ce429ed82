// Which repository hosts a runner fetches from: resolved first, refused unless every address is public
// (or the runners allow the host, or loopback in local development), and git pinned to the addresses checked.
import { describe, expect, it } from "vitest";
import { SourceError } from "./errors.ts";
import { checkRepoHost, type RepoHostPolicy, type Resolver } from "./host.ts";
import { checkRepoUrl } from "./url.ts";

const strict: RepoHostPolicy = { allowLocalHttp: false, allowedHosts: [] };

/** A resolver answering from a table, recording what it was asked. */
function table(answers: Record<string, string[]>): Resolver & { asked: string[] } {
  const asked: string[] = [];
  const resolve = async (host: string) => {
    asked.push(host);
    const list = answers[host];
    if (!list) throw Object.assign(new Error(`getaddrinfo ENOTFOUND ${host}`), { code: "ENOTFOUND" });
    return list.map((address) => ({ address, family: address.includes(":") ? 6 : 4 }));
  };
  return Object.assign(resolve, { asked });
}

async function refusal(p: Promise<unknown>): Promise<SourceError> {
  const err = await p.then(
    () => undefined,
    (e: unknown) => e,
  );
  if (!(err instanceof SourceError)) throw new Error(`expected a SourceError, got ${String(err)}`);
  return err;
}

const check = (url: string, policy: RepoHostPolicy, resolve: Resolver) => checkRepoHost(checkRepoUrl(url, policy.allowLocalHttp), policy, resolve);

describe("the repository's host, before git runs", () => {
  const dns = table({
    "git.example.com": ["140.82.112.3", "2606:50c0:8000::153"],
    "metadata.attacker.example": ["169.254.169.254"],
    "intranet.attacker.example": ["10.0.0.1"],
    "home.attacker.example": ["127.0.0.1"],
    "half.attacker.example": ["140.82.112.3", "10.0.0.1"],
    "mapped.attacker.example": ["::ffff:169.254.169.254"],
    "git.corp.example": ["10.20.30.40"],
  });

  it("refuses a name resolving to cloud metadata, a private or a loopback address, naming the host", async () => {
    for (const host of ["metadata.attacker.example", "intranet.attacker.example", "home.attacker.example", "mapped.attacker.example"]) {
      const err = await refusal(check(`https://${host}/acme/crm.git`, strict, dns));
      expect(err.code).toBe("invalid_source");
      expect(err.message).toContain(`host ${host} resolves to a private, loopback or link-local address`);
      expect(err.message).toContain("SFP_SOURCE_ALLOWED_HOSTS");
      expect(err.message).not.toMatch(/169\.254|10\.0\.0\.1|127\.0\.0\.1/); // what the internal DNS says stays inside
    }
  });

  it("refuses a name when any one of its addresses is not public (curl may pick any)", async () => {
    expect((await refusal(check("https://half.attacker.example/acme/crm.git", strict, dns))).code).toBe("invalid_source");
  });

  it("refuses IP-literal hosts that are not public without asking DNS", async () => {
    const before = dns.asked.length;
    for (const host of ["169.254.169.254", "10.0.0.1", "127.0.0.1", "[::1]", "[fd00::1]", "[::ffff:10.0.0.1]"]) {
      const err = await refusal(check(`https://${host}/acme/crm.git`, strict, dns));
      expect(err.code).toBe("invalid_source");
      expect(err.message).toContain(`is a private, loopback or link-local address`);
    }
    expect(dns.asked.length).toBe(before);
  });

  it("pins a public host to every address it resolved to (IPv6 in brackets, the URL's port or the scheme's)", async () => {
    expect(await check("https://git.example.com/acme/crm.git", strict, dns)).toBe("git.example.com:443:140.82.112.3,[2606:50c0:8000::153]");
    expect(await check("https://git.example.com:8443/acme/crm.git", strict, dns)).toBe("git.example.com:8443:140.82.112.3,[2606:50c0:8000::153]");
    expect(await check("https://140.82.112.3/acme/crm.git", strict, dns)).toBeUndefined(); // nothing to rebind
  });

  it("fetches from a host SFP_SOURCE_ALLOWED_HOSTS names (or a *.domain of it) whatever it resolves to, pinned", async () => {
    expect(await check("https://git.corp.example/acme/crm.git", { ...strict, allowedHosts: ["git.corp.example"] }, dns)).toBe(
      "git.corp.example:443:10.20.30.40",
    );
    expect(await check("https://git.corp.example/acme/crm.git", { ...strict, allowedHosts: ["*.corp.example"] }, dns)).toBe("git.corp.example:443:10.20.30.40");
    expect(await check("https://10.0.0.1/acme/crm.git", { ...strict, allowedHosts: ["10.0.0.1"] }, dns)).toBeUndefined();
    // another host is not allowed by it
    const other = await refusal(
      check("https://intranet.attacker.example/acme/crm.git", { ...strict, allowedHosts: ["git.corp.example", "*.corp.example"] }, dns),
    );
    expect(other.code).toBe("invalid_source");
  });

  it("takes loopback only with the local-development setting, and plain http only to loopback addresses", async () => {
    const local = { ...strict, allowLocalHttp: true };
    expect(await check("https://home.attacker.example/acme/crm.git", local, dns)).toBe("home.attacker.example:443:127.0.0.1");
    expect(await check("http://127.0.0.1:8080/acme/crm.git", local, dns)).toBeUndefined();
    const localhostDns = table({ localhost: ["127.0.0.1", "::1"] });
    expect(await check("http://localhost:8080/acme/crm.git", local, localhostDns)).toBe("localhost:8080:127.0.0.1,[::1]");
    expect((await refusal(check("https://localhost/acme/crm.git", strict, localhostDns))).code).toBe("invalid_source");
    // private addresses stay refused in local development
    expect((await refusal(check("https://metadata.attacker.example/acme/crm.git", local, dns))).code).toBe("invalid_source");
    // a "localhost" that resolves elsewhere gets no plain http
    const lying = table({ localhost: ["140.82.112.3"] });
    expect((await refusal(check("http://localhost/acme/crm.git", local, lying))).message).toContain("plain http is allowed only to a loopback address");
  });

  it("answers repo_unreachable when the host does not resolve", async () => {
    const err = await refusal(check("https://nothing.example/acme/crm.git", strict, dns));
    expect(err.code).toBe("repo_unreachable");
    expect(err.message).toContain("nothing.example");
  });
});
