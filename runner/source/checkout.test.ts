import { spawn } from "node:child_process";
import { chmod, lstat, mkdir, mkdtemp, readdir, readFile, rm, symlink, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { freePort } from "../../test/doubles/free-port.ts";
import { CanceledError } from "../salesforce/context.ts";
import { mirrorPath } from "./cache.ts";
import { checkout } from "./checkout.ts";
import { checkRepoUrl } from "./url.ts";
import { type FixtureServer, git, startFixtureServer, TOKEN, sourceFailure } from "./testing.ts";

const never = new AbortController().signal;

/** Another worker process that takes the lock and keeps it until it is killed. */
async function holdLock(file: string): Promise<{ kill(): Promise<void> }> {
  const code = `import { withFileLock } from ${JSON.stringify(join(import.meta.dirname, "lock.ts"))};
await withFileLock(${JSON.stringify(file)}, new AbortController().signal, () => { console.log("held"); return new Promise(() => setInterval(() => {}, 1000)); });`;
  const child = spawn(process.execPath, ["--input-type=module", "-e", code], { stdio: ["ignore", "pipe", "inherit"] });
  await new Promise<void>((resolve, reject) => {
    child.stdout.once("data", () => resolve());
    child.once("exit", (c) => reject(new Error(`lock holder exited ${c}`)));
  });
  return {
    async kill() {
      const exited = new Promise((r) => child.once("exit", r));
      child.kill("SIGKILL");
      await exited;
    },
  };
}

describe("checkout of a commit from a real git server (git http-backend, token required)", () => {
  let fx: FixtureServer;
  let scratch: string;
  let cacheDir: string;
  let workDir: string;
  const base = () => ({ repo: fx.url, cacheDir, workDir, signal: never, allowLocalHttp: true });

  beforeAll(async () => {
    fx = await startFixtureServer();
  });
  afterAll(() => fx.close());
  beforeEach(async () => {
    scratch = await mkdtemp(join(tmpdir(), "sfp-checkout-test-"));
    cacheDir = join(scratch, "cache");
    workDir = join(scratch, "jobs");
    fx.server.requests.length = 0;
    return () => rm(scratch, { recursive: true, force: true });
  });

  it("checks out exactly the commit named by sha, in a directory of its own that cleanup() removes", async () => {
    const co = await checkout({ ...base(), ref: fx.v1, token: TOKEN });
    expect(co.sha).toBe(fx.v1);
    expect(git(co.dir, "rev-parse", "HEAD")).toBe(fx.v1);
    expect(await readFile(join(co.dir, "force-app/main/default/classes/LegacyInvoiceHelper.cls"), "utf8")).toContain("class LegacyInvoiceHelper");
    // shallow: the commit only, no history
    expect(git(co.dir, "rev-list", "--count", "HEAD")).toBe("1");
    expect(co.dir.startsWith(workDir)).toBe(true);
    await co.cleanup();
    expect(await readdir(workDir)).toEqual([]);
  });

  it("resolves a branch or a tag once, to the sha it names", async () => {
    const main = await checkout({ ...base(), ref: "main", token: TOKEN });
    const tag = await checkout({ ...base(), ref: "v1", token: TOKEN });
    expect(main.sha).toBe(fx.v2);
    expect(tag.sha).toBe(fx.v1);
    expect(git(tag.dir, "rev-parse", "HEAD")).toBe(fx.v1);
    await main.cleanup();
    await tag.cleanup();
  });

  it("fails with repo_auth for a wrong token, and no secret in the error", async () => {
    const wrong = "ghp_wrongToken9876543210zyxwvuZYXWVU";
    const err = await sourceFailure(checkout({ ...base(), ref: fx.v1, token: wrong }));
    expect(err.code).toBe("repo_auth");
    expect(err.message).toContain("refused the repository token");
    expect(err.message).not.toContain(wrong);
    expect(err.message).not.toContain(TOKEN);
    expect(fx.server.requests.some((r) => r.status === 401)).toBe(true);
    expect(await readdir(workDir).catch(() => [])).toEqual([]);
  });

  it("fails with repo_auth when the repository wants a token and none is given", async () => {
    const err = await sourceFailure(checkout({ ...base(), ref: fx.v1 }));
    expect(err.code).toBe("repo_auth");
    expect(err.message).toContain("no repository token");
  });

  it("fails with ref_not_found for an unknown sha and for an unknown branch", async () => {
    const sha = "0123456789abcdef0123456789abcdef01234567";
    const bySha = await sourceFailure(checkout({ ...base(), ref: sha, token: TOKEN }));
    expect(bySha.code).toBe("ref_not_found");
    expect(bySha.message).toContain(sha);
    const byName = await sourceFailure(checkout({ ...base(), ref: "no-such-branch", token: TOKEN }));
    expect(byName.code).toBe("ref_not_found");
    expect(byName.message).toContain("no-such-branch");
  });

  it("fails with repo_unreachable when nothing listens or the server has no such repository", async () => {
    const port = await freePort();
    const closed = await sourceFailure(checkout({ ...base(), repo: `http://127.0.0.1:${port}/acme/crm.git`, ref: fx.v1, token: TOKEN }));
    expect(closed.code).toBe("repo_unreachable");
    expect(closed.message).toContain(`127.0.0.1:${port}`);
    const missing = await sourceFailure(checkout({ ...base(), repo: `${fx.server.url}/acme/nothing.git`, ref: fx.v1, token: TOKEN }));
    expect(missing.code).toBe("repo_unreachable");
  });

  it("takes plain http only from loopback and only with the local-development setting", async () => {
    expect((await sourceFailure(checkout({ ...base(), allowLocalHttp: false, ref: fx.v1, token: TOKEN }))).code).toBe("invalid_source");
    expect(() => checkRepoUrl("http://git.example.com/acme/crm.git", true)).toThrow(/loopback/);
    expect(() => checkRepoUrl("https://user:pw@git.example.com/acme/crm.git", false)).toThrow(/credentials/);
    expect(() => checkRepoUrl("ssh://git.example.com/acme/crm.git", false)).toThrow(/https/);
    expect(checkRepoUrl("https://git.example.com/acme/crm.git", false).insecure).toBe(false);
    expect(fx.server.requests).toEqual([]);
  });

  it("puts the token in no argv and no environment of any git process, yet authenticates", async () => {
    // A git that records its own argv and environment, and turns on GIT_TRACE, which logs the argv of
    // every process git starts (git-remote-http, the credential helper, index-pack…).
    const log = join(scratch, "git-calls.log");
    const trace = join(scratch, "git-trace.log");
    const wrapper = join(scratch, "git");
    await writeFile(
      wrapper,
      `#!/bin/sh\n{ printf 'ARGV'; for a in "$@"; do printf ' %s' "$a"; done; printf '\\n'; tr '\\0' '\\n' < /proc/$$/environ | sed 's/^/ENV /'; } >> '${log}'\nGIT_TRACE='${trace}' exec git "$@"\n`,
    );
    await chmod(wrapper, 0o755);
    const co = await checkout({ ...base(), ref: "main", token: TOKEN, git: wrapper });
    expect(co.sha).toBe(fx.v2);
    await co.cleanup();

    const calls = await readFile(log, "utf8");
    const traced = await readFile(trace, "utf8");
    const forms = [TOKEN, Buffer.from(`x-access-token:${TOKEN}`).toString("base64"), encodeURIComponent(TOKEN)];
    for (const form of forms) {
      expect(calls).not.toContain(form);
      expect(traced).not.toContain(form);
    }
    expect(calls).toMatch(/^ARGV --git-dir \S+ fetch /m);
    expect(calls).toMatch(/^ENV GIT_CONFIG_KEY_1=credential.helper$/m);
    expect(traced).toContain("remote-http");
    expect(traced).toMatch(/f get'?$/m); // the credential helper ran, and was asked for the token
    // …and the server did get it, through the credential protocol
    expect(fx.server.requests.some((r) => r.authorized && r.headers.authorization !== undefined)).toBe(true);
  });

  it("checks symlinks out as plain files, so nothing outside the checkout is read", async () => {
    const outside = join(scratch, "host-secret.txt");
    await writeFile(outside, "host secret\n");
    await symlink(outside, join(fx.work, "force-app/main/default/classes/Linked.cls"));
    git(fx.work, "add", "--all");
    git(fx.work, "commit", "--quiet", "--message", "a symlink");
    git(fx.work, "push", "--quiet", fx.bare, "HEAD:refs/heads/symlink");
    git(fx.work, "reset", "--quiet", "--hard", fx.v2);
    const co = await checkout({ ...base(), ref: "symlink", token: TOKEN });
    const linked = join(co.dir, "force-app/main/default/classes/Linked.cls");
    expect((await lstat(linked)).isSymbolicLink()).toBe(false);
    expect(await readFile(linked, "utf8")).toBe(outside);
    await co.cleanup();
  });

  it("removes a canceled job's directory and throws CanceledError while it waits for the cache's lock", async () => {
    const co = await checkout({ ...base(), ref: fx.v1, token: TOKEN });
    await co.cleanup();
    const holder = await holdLock(`${mirrorPath(cacheDir, checkRepoUrl(fx.url, true))}.lock`);
    try {
      const abort = new AbortController();
      const running = checkout({ ...base(), signal: abort.signal, ref: fx.v2, token: TOKEN });
      setTimeout(() => abort.abort(), 200);
      await expect(running).rejects.toBeInstanceOf(CanceledError);
      expect(await readdir(workDir)).toEqual([]);
    } finally {
      await holder.kill();
    }
  });
});

describe("the checkout cache (a bare mirror per repository URL on the runner host)", () => {
  let fx: FixtureServer;
  let scratch: string;
  beforeAll(async () => {
    fx = await startFixtureServer();
    scratch = await mkdtemp(join(tmpdir(), "sfp-cache-test-"));
  });
  afterAll(async () => {
    await fx.close();
    await rm(scratch, { recursive: true, force: true });
  });

  const objectsIn = (...revs: string[]) =>
    git(fx.bare, "rev-list", "--objects", ...revs)
      .split("\n")
      .filter(Boolean).length;
  const packBytes = () => fx.server.requests.filter((r) => r.method === "POST" && r.url.endsWith("/git-upload-pack")).reduce((n, r) => n + r.responseBytes, 0);

  it("fetches only the new objects the second time, and still asks the server (with this job's token) for a commit it holds", async () => {
    const cacheDir = join(scratch, "cache");
    const opts = { repo: fx.url, cacheDir, workDir: join(scratch, "jobs"), signal: never, allowLocalHttp: true, token: TOKEN };

    fx.server.requests.length = 0;
    const first = await checkout({ ...opts, ref: fx.v1 });
    const firstBytes = packBytes();
    expect(first.fetchedObjects).toBe(objectsIn(fx.v1));

    fx.server.requests.length = 0;
    const second = await checkout({ ...opts, ref: fx.v2 });
    const secondBytes = packBytes();
    expect(second.fetchedObjects).toBe(objectsIn(fx.v2, `^${fx.v1}`));
    expect(second.fetchedObjects).toBeLessThan(objectsIn(fx.v2) / 3);
    expect(secondBytes).toBeLessThan(firstBytes / 2);
    // one mirror for the URL, both jobs' directories beside each other
    expect((await readdir(cacheDir)).filter((f) => f.endsWith(".git"))).toHaveLength(1);
    expect(first.dir).not.toBe(second.dir);

    fx.server.requests.length = 0;
    const third = await checkout({ ...opts, ref: fx.v2 });
    expect(third.fetchedObjects).toBe(0);
    expect(fx.server.requests.some((r) => r.authorized && r.url.includes("git-upload-pack"))).toBe(true);
    const err = await sourceFailure(checkout({ ...opts, ref: fx.v2, token: "ghp_notTheRightOne000000000000000000" }));
    expect(err.code).toBe("repo_auth");

    for (const co of [first, second, third]) await co.cleanup();
  });

  it("is not blocked for good by a job that died holding the mirror's lock (the kernel drops it)", async () => {
    const cacheDir = join(scratch, "crash-cache");
    const opts = { repo: fx.url, cacheDir, workDir: join(scratch, "crash-jobs"), signal: never, allowLocalHttp: true, token: TOKEN };
    await mkdir(cacheDir, { recursive: true });
    // another worker holds the lock, and is then SIGKILLed
    const holder = await holdLock(`${mirrorPath(cacheDir, checkRepoUrl(fx.url, true))}.lock`);
    let done = false;
    const running = checkout({ ...opts, ref: fx.v1 }).finally(() => {
      done = true;
    });
    await new Promise((r) => setTimeout(r, 300));
    expect(done).toBe(false);
    await holder.kill();
    const co = await running;
    expect(co.sha).toBe(fx.v1);
    await co.cleanup();
  });

  it("serves concurrent jobs on one repository (they take turns on the mirror)", async () => {
    const cacheDir = join(scratch, "concurrent-cache");
    const opts = { repo: fx.url, cacheDir, workDir: join(scratch, "concurrent-jobs"), signal: never, allowLocalHttp: true, token: TOKEN };
    const jobs = await Promise.all([fx.v1, fx.v2, "main", "v1"].map((ref) => checkout({ ...opts, ref })));
    expect(jobs.map((j) => j.sha)).toEqual([fx.v1, fx.v2, fx.v2, fx.v1]);
    for (const j of jobs) expect(git(j.dir, "rev-parse", "HEAD")).toBe(j.sha);
    expect(new Set(jobs.map((j) => j.dir)).size).toBe(4);
    for (const j of jobs) await j.cleanup();
  });
});
