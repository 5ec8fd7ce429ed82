// Which hosts a checkout fetches from, end to end with a real git: a repository on a private, metadata
// or loopback address is refused before git ever runs; the runners' allowed hosts and the
// local-development setting let one through; git connects to the addresses checked and follows no redirect.
import { chmod, mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { freePort } from "../../test/doubles/free-port.ts";
import { checkout } from "./checkout.ts";
import { type FixtureServer, startFixtureServer, TOKEN, sourceFailure } from "./testing.ts";

const never = new AbortController().signal;

describe("the hosts a checkout fetches from (SSRF)", () => {
  let fx: FixtureServer;
  let scratch: string;
  /** A git that records each call (argv and environment) and has curl say where it connects. */
  let wrapper: string;
  let calls: () => Promise<string>;
  let curlTrace: () => Promise<string>;
  const base = () => ({ cacheDir: join(scratch, "cache"), workDir: join(scratch, "jobs"), signal: never, token: TOKEN, git: wrapper });

  beforeAll(async () => {
    fx = await startFixtureServer();
  });
  afterAll(() => fx.close());
  beforeEach(async () => {
    scratch = await mkdtemp(join(tmpdir(), "sfp-hosts-test-"));
    const log = join(scratch, "git-calls.log");
    const trace = join(scratch, "curl-trace.log");
    wrapper = join(scratch, "git");
    await writeFile(
      wrapper,
      `#!/bin/sh\n{ printf 'ARGV'; for a in "$@"; do printf ' %s' "$a"; done; printf '\\n'; tr '\\0' '\\n' < /proc/$$/environ | sed 's/^/ENV /'; } >> '${log}'\nGIT_TRACE_CURL='${trace}' GIT_TRACE_CURL_NO_DATA=1 exec git "$@"\n`,
    );
    await chmod(wrapper, 0o755);
    calls = () => readFile(log, "utf8").catch(() => "");
    curlTrace = () => readFile(trace, "utf8").catch(() => "");
    fx.server.requests.length = 0;
    return () => rm(scratch, { recursive: true, force: true });
  });

  it("refuses metadata, private and loopback hosts (literal, or the name localhost) with invalid_source before git runs", async () => {
    const port = new URL(fx.server.url).port;
    for (const repo of [
      "https://169.254.169.254/acme/crm.git",
      "https://10.0.0.1/acme/crm.git",
      `https://127.0.0.1:${port}/acme/crm.git`,
      `https://localhost:${port}/acme/crm.git`,
      "https://[::1]/acme/crm.git",
    ]) {
      const err = await sourceFailure(checkout({ ...base(), repo, ref: fx.v1 }));
      expect(err.code).toBe("invalid_source");
      expect(err.message).toMatch(/host \S+ (is|resolves to) a private, loopback or link-local address/);
      expect(err.message).toContain(new URL(repo).hostname.replace(/^\[(.*)\]$/, "$1"));
      expect(err.message).not.toContain(TOKEN);
    }
    expect(await calls()).toBe(""); // git never ran, not even on the cache
    expect(fx.server.requests).toEqual([]);
  });

  it("lets git run for a host the runners allow (SFP_SOURCE_ALLOWED_HOSTS), and for loopback only with the local-development setting", async () => {
    const closed = await freePort();
    for (const [repo, allowedHosts] of [
      [`https://localhost:${closed}/acme/crm.git`, ["localhost"]],
      [`https://127.0.0.1:${closed}/acme/crm.git`, ["127.0.0.1"]],
    ] as const) {
      // Past the check, git tries to connect: nothing listens, so the repository is unreachable.
      const err = await sourceFailure(checkout({ ...base(), repo, ref: fx.v1, allowedHosts: [...allowedHosts] }));
      expect(err.code).toBe("repo_unreachable");
    }
    expect(await calls()).toMatch(/^ARGV --git-dir \S+ fetch /m);

    const local = await sourceFailure(checkout({ ...base(), repo: `https://localhost:${closed}/acme/crm.git`, ref: fx.v1, allowLocalHttp: true }));
    expect(local.code).toBe("repo_unreachable");
    const co = await checkout({ ...base(), repo: fx.url, ref: fx.v1, allowLocalHttp: true });
    expect(co.sha).toBe(fx.v1);
    await co.cleanup();
  });

  it("pins git's connection to the addresses checked (http.curloptResolve): curl takes them, asks no resolver", async () => {
    const port = new URL(fx.server.url).port;
    const co = await checkout({
      ...base(),
      repo: `http://localhost:${port}/acme/crm.git`,
      ref: fx.v1,
      allowLocalHttp: true,
      resolve: async () => [{ address: "127.0.0.1", family: 4 }],
    });
    expect(co.sha).toBe(fx.v1);
    await co.cleanup();
    const env = await calls();
    expect(env).toMatch(new RegExp(`^ENV GIT_CONFIG_VALUE_\\d+=localhost:${port}:127\\.0\\.0\\.1$`, "m"));
    expect(env).toMatch(/^ENV GIT_CONFIG_KEY_\d+=http\.curloptResolve$/m);
    const trace = await curlTrace();
    expect(trace).toContain(`Added localhost:${port}:127.0.0.1 to DNS cache`);
    expect(trace).toContain("Hostname localhost was found in DNS cache");
  });

  describe("a repository URL that redirects", () => {
    let redirector: Server;
    let redirectorUrl: string;
    beforeAll(async () => {
      // Answers every request with a redirect to the fixture server (the same path): a host git was not pinned to.
      redirector = createServer((req, res) => {
        res.writeHead(302, { location: `${fx.server.url}${req.url ?? "/"}` });
        res.end();
      });
      await new Promise<void>((resolve) => redirector.listen(0, "127.0.0.1", resolve));
      redirectorUrl = `http://127.0.0.1:${(redirector.address() as AddressInfo).port}`;
    });
    afterAll(() => new Promise<void>((resolve) => redirector.close(() => resolve())));

    it("is not followed (http.followRedirects=false): the other server gets no request", async () => {
      const err = await sourceFailure(checkout({ ...base(), repo: `${redirectorUrl}/acme/crm.git`, ref: fx.v1, allowLocalHttp: true }));
      expect(err.code).toBe("repo_unreachable");
      expect(fx.server.requests).toEqual([]);
      expect(await calls()).toMatch(/^ENV GIT_CONFIG_KEY_\d+=http\.followRedirects$/m);
    });
  });
});
