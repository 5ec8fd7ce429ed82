// A task's zipUrl is not a way into the runner's network: each refusal, the local-development
// loopback case, redirects checked hop by hop, the allowlist, the connection pinned to the checked
// address, and errors that do not tell what answers inside.
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { configFromEnv } from "../manager/config.ts";
import { addressKind } from "./addresses.ts";
import { OperationError } from "./context.ts";
import { loadZip } from "./zip.ts";
import { fetchZip, MAX_REDIRECTS, STRICT_ZIP_POLICY, type ResolvedAddress, type ZipFetchOptions, type ZipFetchPolicy } from "./zip-fetch.ts";

const ZIP = Buffer.from("PK\u0003\u0004 a zip, as far as this test cares");
const DEV: ZipFetchPolicy = { allowLoopbackHttp: true, allowedHosts: [] };

let server: Server;
let base: string;
const hits: string[] = [];

beforeAll(async () => {
  server = createServer((req, res) => {
    hits.push(req.url ?? "");
    const url = new URL(req.url ?? "/", "http://x");
    const to = url.searchParams.get("to");
    if (url.pathname === "/redirect" && to) {
      res.writeHead(302, { location: to });
      res.end();
    } else if (url.pathname === "/loop") {
      res.writeHead(301, { location: "/loop" });
      res.end();
    } else if (url.pathname === "/zip") {
      res.writeHead(200, { "content-type": "application/zip" });
      res.end(ZIP);
    } else {
      res.writeHead(404);
      res.end();
    }
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});

afterAll(() => {
  server.closeAllConnections();
  server.close();
});

function fetchWith(url: string, policy: ZipFetchPolicy, extra: Partial<ZipFetchOptions> = {}): Promise<Buffer> {
  return fetchZip(url, { policy, signal: AbortSignal.timeout(10_000), maxBytes: 1024 * 1024, ...extra });
}

async function refusal(url: string, policy: ZipFetchPolicy, extra: Partial<ZipFetchOptions> = {}): Promise<OperationError> {
  const err = await fetchWith(url, policy, extra).then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(err).toBeInstanceOf(OperationError);
  if (!(err instanceof OperationError)) throw new Error(`${url} was fetched`);
  expect(err.code).toBe("zip_unavailable");
  return err;
}

/** A resolver standing in for DNS, counting its calls. */
function resolver(answers: Record<string, string[]>): { resolve: (host: string) => Promise<ResolvedAddress[]>; calls: string[] } {
  const calls: string[] = [];
  return {
    calls,
    resolve: async (host) => {
      calls.push(host);
      const found = answers[host];
      if (!found) throw new Error(`getaddrinfo ENOTFOUND ${host}`);
      return found.map((address) => ({ address, family: address.includes(":") ? 6 : 4 }));
    },
  };
}

describe("which addresses are public", () => {
  it.each([
    ["8.8.8.8", "public"],
    ["2606:4700:4700::1111", "public"],
    ["64:ff9b::808:808", "public"],
    ["127.0.0.1", "loopback"],
    ["127.255.0.9", "loopback"],
    ["::1", "loopback"],
    ["::ffff:127.0.0.1", "loopback"],
    ["::ffff:7f00:1", "loopback"],
    ["10.1.2.3", "internal"],
    ["172.16.0.1", "internal"],
    ["172.31.255.255", "internal"],
    ["192.168.1.1", "internal"],
    ["169.254.169.254", "internal"],
    ["100.100.100.200", "internal"],
    ["168.63.129.16", "internal"],
    ["0.0.0.0", "internal"],
    ["255.255.255.255", "internal"],
    ["224.0.0.1", "internal"],
    ["::", "internal"],
    ["::127.0.0.1", "internal"],
    ["::ffff:10.0.0.1", "internal"],
    ["::ffff:169.254.169.254", "internal"],
    ["64:ff9b::a00:1", "internal"],
    ["fd00:ec2::254", "internal"],
    ["fc00::1", "internal"],
    ["fe80::1%eth0", "internal"],
    ["ff02::1", "internal"],
    ["2002:7f00:1::", "internal"],
    ["2001::1", "internal"],
    ["2001:db8::1", "internal"],
    ["not-an-ip", "internal"],
  ])("%s is %s", (address, kind) => {
    expect(addressKind(address)).toBe(kind);
  });
});

describe("fetching a zipUrl", () => {
  it("refuses plain http to a public host, before any lookup", async () => {
    const dns = resolver({ "ci.example": ["93.184.216.34"] });
    const err = await refusal("http://ci.example/build.zip", STRICT_ZIP_POLICY, { resolve: dns.resolve });
    expect(err.message).toMatch(/not https; only https is fetched/);
    expect(dns.calls).toEqual([]);
  });

  it("refuses loopback unless the local-development setting allows it, without connecting", async () => {
    hits.length = 0;
    await refusal(`${base}/zip`, STRICT_ZIP_POLICY);
    await refusal(`${base.replace("http:", "https:")}/zip`, STRICT_ZIP_POLICY);
    await refusal(`http://[::ffff:127.0.0.1]:${new URL(base).port}/zip`, STRICT_ZIP_POLICY);
    await refusal(`http://2130706433:${new URL(base).port}/zip`, STRICT_ZIP_POLICY);
    expect(hits).toEqual([]);
  });

  it("downloads over plain http from loopback with the local-development setting", async () => {
    expect(await fetchWith(`${base}/zip?sig=x`, DEV)).toEqual(ZIP);
  });

  it.each([
    "https://10.0.0.1/a.zip",
    "https://192.168.1.10/a.zip",
    "https://172.16.0.1/a.zip",
    "https://169.254.169.254/latest/meta-data/",
    "https://100.100.100.200/a.zip",
    "https://[fd00:ec2::254]/a.zip",
    "https://[fe80::1]/a.zip",
    "https://[::ffff:169.254.169.254]/a.zip",
    "https://[64:ff9b::a9fe:a9fe]/a.zip",
    "https://0.0.0.0/a.zip",
  ])("refuses %s even with the local-development setting", async (url) => {
    const err = await refusal(url, DEV);
    expect(err.message).toMatch(/not reachable as a public https server/);
  });

  it("refuses a host whose name resolves to a private or metadata address, or to any such address among allowed ones, without connecting", async () => {
    // mixed.example's first address is one the policy allows and this test serves: only a check of
    // every address refuses it (with the generic message) before a connection is made.
    const dns = resolver({ "metadata.internal": ["169.254.169.254"], "mixed.example": ["127.0.0.1", "10.0.0.5"], "local.test": ["127.0.0.1"] });
    const port = new URL(base).port;
    const generic = /not reachable as a public https server/;
    hits.length = 0;
    expect((await refusal("https://metadata.internal/computeMetadata/v1/", DEV, { resolve: dns.resolve })).message).toMatch(generic);
    expect((await refusal(`http://mixed.example:${port}/zip`, DEV, { resolve: dns.resolve })).message).toMatch(generic);
    expect((await refusal("https://local.test/a.zip", STRICT_ZIP_POLICY, { resolve: dns.resolve })).message).toMatch(generic);
    expect(hits).toEqual([]);
  });

  it("connects to the address it checked: one lookup per hop, never a second answer", async () => {
    // Resolves once to loopback, then (rebinding) to the metadata address; a fresh lookup at connect
    // time would fail (the system resolver knows no such host) or go elsewhere.
    let answer = "127.0.0.1";
    const calls: string[] = [];
    const resolve = async (host: string) => {
      calls.push(host);
      const out = [{ address: answer, family: 4 }];
      answer = "169.254.169.254";
      return out;
    };
    const zip = await fetchWith(`http://zips.rebind.test:${new URL(base).port}/zip`, DEV, { resolve });
    expect(zip).toEqual(ZIP);
    expect(calls).toEqual(["zips.rebind.test"]);
  });

  it("checks every redirect hop: a redirect to a private, metadata or plain-http address is refused", async () => {
    hits.length = 0;
    for (const to of ["http://169.254.169.254/latest/meta-data/", "https://10.0.0.1/a.zip", "http://[::ffff:a9fe:a9fe]/"]) {
      await refusal(`${base}/redirect?to=${encodeURIComponent(to)}`, DEV);
    }
    const dns = resolver({ "ci.example": ["93.184.216.34"] });
    const err = await refusal(`${base}/redirect?to=${encodeURIComponent("http://ci.example/a.zip")}`, DEV, { resolve: dns.resolve });
    expect(err.message).toMatch(/plain http is fetched from loopback only/);
    // Only the redirecting hops reached the server.
    expect(hits.every((h) => h.startsWith("/redirect"))).toBe(true);
  });

  it("follows an allowed redirect, and at most MAX_REDIRECTS of them", async () => {
    expect(await fetchWith(`${base}/redirect?to=${encodeURIComponent("/zip")}`, DEV)).toEqual(ZIP);
    hits.length = 0;
    const err = await refusal(`${base}/loop`, DEV);
    expect(err.message).toMatch(new RegExp(`redirects more than ${MAX_REDIRECTS} times`));
    expect(hits).toHaveLength(MAX_REDIRECTS + 1);
  });

  it("keeps to the allowlist on every hop", async () => {
    const only = { allowLoopbackHttp: true, allowedHosts: ["*.ci.example", "127.0.0.1"] };
    expect(await fetchWith(`${base}/zip`, only)).toEqual(ZIP);
    const dns = resolver({ "evil.example": ["127.0.0.1"], "ci.example.evil.test": ["127.0.0.1"] });
    const outside = await refusal(`http://evil.example:${new URL(base).port}/zip`, only, { resolve: dns.resolve });
    expect(outside.message).toMatch(/outside the runner's allowed hosts/);
    await refusal(`http://ci.example.evil.test:${new URL(base).port}/zip`, only, { resolve: dns.resolve });
    await refusal(`${base}/redirect?to=${encodeURIComponent(`http://evil.example:${new URL(base).port}/zip`)}`, only, { resolve: dns.resolve });
    expect(dns.calls).toEqual([]);
  });

  it("refuses credentials in the URL", async () => {
    const err = await refusal(`http://user:pass@127.0.0.1:${new URL(base).port}/zip`, DEV);
    expect(err.message).not.toContain("pass@");
  });

  it("tells a closed port, an unknown host and a private address apart in no way", async () => {
    const closed = await new Promise<number>((resolve) => {
      const probe = createServer();
      probe.listen(0, "127.0.0.1", () => {
        const { port } = probe.address() as AddressInfo;
        probe.close(() => resolve(port));
      });
    });
    const dns = resolver({});
    const same = (message: string) => message.replace("https://", "http://").replace("nowhere.test", "127.0.0.1").replace(String(closed), "PORT");
    const messages = [
      // Nothing listens there (with the local-development setting, so that it is tried)…
      (await refusal(`http://127.0.0.1:${closed}/a.zip`, DEV)).message,
      // …loopback without the setting…
      (await refusal(`https://127.0.0.1:${closed}/a.zip`, STRICT_ZIP_POLICY)).message,
      // …and a name that does not resolve.
      (await refusal(`https://nowhere.test:${closed}/a.zip`, DEV, { resolve: dns.resolve })).message,
    ].map(same);
    expect(new Set(messages).size).toBe(1);
    expect(messages[0]).not.toMatch(/ECONNREFUSED|ENOTFOUND|getaddrinfo|connect/i);
  });

  it("is strict when the runner gives no policy (loadZip's default)", async () => {
    const err = await loadZip({ zipUrl: `${base}/zip` }, AbortSignal.timeout(10_000)).then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(err).toBeInstanceOf(OperationError);
  });
});

describe("the manager's zip settings", () => {
  const env = { SFP_EDGE_URL: "https://edge.example" };

  it("are strict by default, and read SFP_ALLOW_LOOPBACK_HTTP and SFP_ZIP_ALLOWED_HOSTS", () => {
    expect(configFromEnv(env).zipPolicy).toEqual(STRICT_ZIP_POLICY);
    expect(configFromEnv({ ...env, SFP_ALLOW_LOOPBACK_HTTP: "true", SFP_ZIP_ALLOWED_HOSTS: "ci.example.com, *.Artifacts.example" }).zipPolicy).toEqual({
      allowLoopbackHttp: true,
      allowedHosts: ["ci.example.com", "*.artifacts.example"],
    });
    expect(() => configFromEnv({ ...env, SFP_ZIP_ALLOWED_HOSTS: "https://ci.example.com/" })).toThrow(/SFP_ZIP_ALLOWED_HOSTS/);
  });
});
