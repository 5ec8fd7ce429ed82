import { afterEach, describe, expect, it } from "vitest";
import { credentialHelper, gitEnv, runGit } from "./git.ts";
import { gitProgress } from "./progress.ts";

describe("git's isolation from the worker and the host", () => {
  afterEach(() => {
    delete process.env.SFP_SOME_SECRET;
    delete process.env.GIT_DIR;
  });

  it("hands git only PATH, proxies and trust stores from the worker's environment", () => {
    process.env.SFP_SOME_SECRET = "s3cr3t-value";
    process.env.GIT_DIR = "/somewhere/else";
    const env = gitEnv({});
    expect(JSON.stringify(env)).not.toContain("s3cr3t-value");
    expect(env.GIT_DIR).toBeUndefined();
    expect(env).toMatchObject({ GIT_TERMINAL_PROMPT: "0", GIT_CONFIG_NOSYSTEM: "1", GIT_CONFIG_GLOBAL: "/dev/null", LC_ALL: "C" });
    const config = Object.fromEntries(
      Array.from({ length: Number(env.GIT_CONFIG_COUNT) }, (_, i) => [env[`GIT_CONFIG_KEY_${i}`], env[`GIT_CONFIG_VALUE_${i}`]]),
    );
    expect(config).toMatchObject({ "protocol.allow": "never", "protocol.https.allow": "always", "protocol.http.allow": "never" });
    expect(gitEnv({ allowHttp: true }).GIT_CONFIG_VALUE_3).toBe("always");
  });

  it("follows no redirect, and pins the connection to the checked addresses when given them", () => {
    const config = (env: Record<string, string>) =>
      Object.fromEntries(Array.from({ length: Number(env.GIT_CONFIG_COUNT) }, (_, i) => [env[`GIT_CONFIG_KEY_${i}`], env[`GIT_CONFIG_VALUE_${i}`]]));
    expect(config(gitEnv({}))).toMatchObject({ "http.followRedirects": "false" });
    expect(config(gitEnv({}))["http.curloptResolve"]).toBeUndefined();
    expect(config(gitEnv({ pin: "git.example.com:443:140.82.112.3" }))).toMatchObject({
      "http.followRedirects": "false",
      "http.curloptResolve": "git.example.com:443:140.82.112.3",
    });
  });

  it("puts no token in the environment, only a helper bound to the repository's host", () => {
    const env = gitEnv({ auth: { host: "git.example.com", username: "x-access-token", token: "ghp_secret0123456789" } });
    expect(JSON.stringify(env)).not.toContain("ghp_secret0123456789");
    expect(env.GIT_CONFIG_KEY_0).toBe("credential.helper");
    expect(env.GIT_CONFIG_VALUE_0).toBe(""); // drops the host's helpers: the token is never stored
    expect(env.GIT_CONFIG_VALUE_1).toContain('"host=git.example.com"');
    expect(env.GIT_CONFIG_VALUE_1).toContain("cat <&3");
  });

  it("refuses user names and hosts that could break out of the helper's shell function", () => {
    expect(() => credentialHelper({ host: "git.example.com", username: "x'; touch /tmp/pwned; '" })).toThrow(/user name/);
    expect(() => credentialHelper({ host: 'git.example.com"; id; "', username: "x" })).toThrow(/host/);
    expect(credentialHelper({ host: "[::1]:8443", username: "oauth2" })).toContain('"host=[::1]:8443"');
  });

  it("refuses a token with a line break (it would add lines to the credential protocol)", async () => {
    await expect(runGit(["version"], { auth: { host: "git.example.com", username: "x", token: "abc\nhost=evil" } })).rejects.toMatchObject({
      code: "repo_auth",
    });
  });
});

describe("git progress → a few messages", () => {
  it("reports each phase at every tenth, across chunks split anywhere, and git's summary lines", () => {
    const seen: string[] = [];
    const feed = gitProgress((l) => seen.push(l));
    const text = `remote: Enumerating objects: 52, done.\nremote: Total 52 (delta 2), reused 0\n${Array.from({ length: 101 }, (_, i) => `Receiving objects: ${String(i).padStart(3)}% (${i}/100)\r`).join("")}Receiving objects: 100% (100/100), 4.1 KiB, done.\nFrom https://git.example.com/acme/crm\n`;
    for (let i = 0; i < text.length; i += 7) feed(text.slice(i, i + 7));
    expect(seen).toEqual([
      "remote: Total 52 (delta 2), reused 0",
      ...Array.from({ length: 11 }, (_, t) => `Receiving objects: ${String(t * 10).padStart(3)}% (${t * 10}/100)`),
      "From https://git.example.com/acme/crm",
    ]);
  });
});
