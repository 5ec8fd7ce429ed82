import { mkdtemp, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { EdgeError } from "../protocol/client.ts";
import { schedulePutBody } from "./commands/schedule.ts";
import { createBody } from "./commands/task.ts";
import { runnerEnv } from "./commands/local.ts";
import { describeError, EXIT, reportError, splitGlobals, UsageError } from "./io.ts";
import { resolveCommand, run } from "./main.ts";
import { memoryIo } from "./test-io.ts";

describe("command-line parsing", () => {
  it("takes --json and --config-dir wherever they appear", () => {
    expect(splitGlobals(["--json", "task", "get", "tsk_1", "--config-dir", "/c"])).toEqual({
      globals: { json: true, configDir: "/c" },
      rest: ["task", "get", "tsk_1"],
    });
    expect(splitGlobals(["task", "list", "--config-dir=/d"]).globals.configDir).toBe("/d");
  });

  it("finds two-word commands before one-word ones", () => {
    expect(resolveCommand(["task", "create", "deploy"])).toEqual({ name: "task create", rest: ["deploy"] });
    expect(resolveCommand(["login", "--url", "x"])).toEqual({ name: "login", rest: ["--url", "x"] });
    expect(resolveCommand(["task", "explode"])).toBeNull();
  });

  it("builds a task body from flags, repeatable labels and a payload file", async () => {
    const dir = await mkdtemp(join(tmpdir(), "sfp-cli-"));
    const payloadFile = join(dir, "payload.json");
    await writeFile(payloadFile, JSON.stringify({ testLevel: "RunLocalTests" }));
    const { io } = memoryIo();
    const parsed = await createBody(
      [
        "validate",
        "--org",
        "uat",
        "--payload-file",
        payloadFile,
        "--priority",
        "critical",
        "--label",
        "a",
        "--label",
        "b=c",
        "--idempotency-key",
        "k1",
        "--wait",
      ],
      io,
    );
    expect(parsed).toEqual({
      body: { type: "validate", org: "uat", payload: { testLevel: "RunLocalTests" }, priority: "critical", labels: ["a", "b=c"] },
      idempotencyKey: "k1",
      wait: true,
      poll: false,
    });
  });

  it("reads the payload from stdin with --payload-file -", async () => {
    const { io } = memoryIo({}, { stdin: '{"soql":"SELECT Id FROM Account"}' });
    const parsed = await createBody(["query", "--org", "demo", "--payload-file", "-"], io);
    expect(parsed.body.payload).toEqual({ soql: "SELECT Id FROM Account" });
  });

  it("reads the task-template flags the same way for task create and schedule put", async () => {
    const { io } = memoryIo({}, { stdin: '{"testLevel":"RunLocalTests"}' });
    const flags = [
      "--payload-file",
      "-",
      "--priority",
      "batch",
      "--pool",
      "eu",
      "--label",
      "a",
      "--label",
      "b",
      "--timeout-seconds",
      "600",
      "--max-attempts",
      "2",
    ];
    const template = {
      type: "deploy",
      org: "uat",
      payload: { testLevel: "RunLocalTests" },
      priority: "batch",
      pool: "eu",
      labels: ["a", "b"],
      timeoutSeconds: 600,
      maxAttempts: 2,
    };
    expect((await createBody(["deploy", "--org", "uat", ...flags], io)).body).toEqual(template);
    const put = await schedulePutBody(["nightly", "--cron", "0 22 * * *", "--type", "deploy", "--org", "uat", ...flags], io);
    expect(put.body.task).toEqual(template);
    await expect(createBody(["deploy", "--org", "uat", "--max-attempts", "two"], io)).rejects.toThrow("--max-attempts must be a whole number");
    await expect(schedulePutBody(["n", "--cron", "0 22 * * *", "--type", "deploy", "--org", "uat", "--timeout-seconds", "1.5"], io)).rejects.toThrow(
      "--timeout-seconds must be a whole number",
    );
  });

  it("rejects a bad task type or priority with the field named, before any request", async () => {
    const { io } = memoryIo();
    await expect(createBody(["explode", "--org", "demo"], io)).rejects.toThrow(/^type: /);
    await expect(createBody(["deploy", "--org", "demo", "--priority", "urgent"], io)).rejects.toThrow(/^priority: /);
    await expect(createBody(["deploy"], io)).rejects.toThrow("--org is required");
    await expect(createBody(["deploy", "--org", "demo", "--bogus"], io)).rejects.toBeInstanceOf(UsageError);
  });
});

describe("exit codes and messages", () => {
  it("exits 2 with the usage for a bad command line", async () => {
    const { io, stderr } = memoryIo();
    expect(await run(["task", "create", "deploy", "--nope"], io)).toBe(EXIT.usage);
    expect(stderr()).toMatch(/error: Unknown option '--nope'/);
    expect(stderr()).toMatch(/usage: sfp-edge task create <type>/);
    expect(await run(["task", "explode"], memoryIo().io)).toBe(EXIT.usage);
    expect(await run([], memoryIo().io)).toBe(EXIT.usage);
  });

  it("lists a group's subcommands for an unknown one", async () => {
    const { io, stderr } = memoryIo();
    await run(["token", "mint"], io);
    expect(stderr()).toContain("token takes: create, list, revoke");
  });

  it("exits 1 and says how to log in when there is no login", async () => {
    const dir = await mkdtemp(join(tmpdir(), "sfp-cli-"));
    const { io, stderr } = memoryIo({ HOME: dir });
    expect(await run(["task", "list", "--config-dir", dir], io)).toBe(EXIT.failed);
    expect(stderr()).toMatch(/not logged in .*run sfp-edge login/);
  });

  it("refuses login without a project id (tokens are opaque)", async () => {
    const { io, stderr } = memoryIo();
    expect(await run(["login", "--url", "http://127.0.0.1:9", "--token", "t"], io)).toBe(EXIT.usage);
    expect(stderr()).toContain("--project is required");
  });

  it("prints the contract error's message and code, and for 401 says to log in", () => {
    const { io, stderr } = memoryIo();
    const code = reportError(io, { json: false }, new EdgeError(401, "unauthenticated", "the bearer token is invalid, expired or revoked", "req_1"));
    expect(code).toBe(EXIT.failed);
    expect(stderr()).toBe(
      "error: the bearer token is invalid, expired or revoked (unauthenticated, HTTP 401, request req_1)\nhint: run sfp-edge login with a valid token\n",
    );
  });

  it("gives every 4xx a hint, with Retry-After for 429", () => {
    expect(describeError(new EdgeError(403, "forbidden", "the viewer role may not do this")).hint).toMatch(/role/);
    expect(describeError(new EdgeError(404, "not_found", "no such task")).hint).toMatch(/check the id/);
    expect(describeError(new EdgeError(429, "rate_limited", "slow down", undefined, 7)).hint).toBe("rate limited; retry after 7 s");
    expect(describeError(new EdgeError(0, "network", "cannot reach http://x")).hint).toMatch(/check the URL/);
  });

  it("reports errors as JSON on stderr with --json", () => {
    const { io, stderr } = memoryIo();
    reportError(io, { json: true }, new EdgeError(409, "already_finished", "task already canceled", "req_2"));
    expect(JSON.parse(stderr())).toEqual({ error: { message: "task already canceled", code: "already_finished", status: 409, requestId: "req_2" } });
  });
});

describe("runner start", () => {
  it("hands the manager the edge URL and registration token, but never the CLI's own API token", () => {
    const env = runnerEnv(
      { PATH: "/bin", SFP_EDGE_TOKEN: "personal-token" },
      { url: "https://edge", registrationToken: "reg", slots: 2, ephemeral: true, labels: "a,b" },
    );
    expect(env).toMatchObject({
      PATH: "/bin",
      SFP_EDGE_URL: "https://edge",
      SFP_REGISTRATION_TOKEN: "reg",
      SFP_RUNNER_SLOTS: "2",
      SFP_RUNNER_EPHEMERAL: "true",
      SFP_RUNNER_LABELS: "a,b",
    });
    expect(env.SFP_EDGE_TOKEN).toBeUndefined();
  });
});
