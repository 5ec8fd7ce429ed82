// The worker process end to end, forked as the manager forks it: IPC only, sanitized environment; the
// test answers its ask for credentials as the manager does (its task's org only).
import { fork, type ChildProcess } from "node:child_process";
import { readFile } from "node:fs/promises";
import { fileURLToPath } from "node:url";
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import type { TaskType } from "../../protocol/task.ts";
import { TEST_PROJECT, testTask } from "../testing-task.ts";
import { metadataZip, SAMPLE_COMPONENTS } from "../../test/doubles/salesforce-fixtures.ts";
import { startSalesforceOrg, type SalesforceOrgDouble } from "../../test/doubles/salesforce-org.ts";
import { parseSfdxAuthUrl, type OrgAuth } from "../credentials/auth-url.ts";
import type { AuthAnswer, ManagerToWorker, WorkerToManager } from "../ipc.ts";

const WORKER = fileURLToPath(new URL("./main.ts", import.meta.url));
// The sample package and the class whose failure quotes credentials in one test.
const ZIP = metadataZip([...SAMPLE_COMPONENTS, { componentType: "ApexClass", fullName: "Leaky" }]).toString("base64");
const PROJECT = TEST_PROJECT;
/** A task for the worker; `org` other than uat is one the manager has no credentials for. */
const task = (type: TaskType, payload: Record<string, unknown>, org = "uat") => testTask(type, payload, { org });

type Ask = Extract<WorkerToManager, { type: "auth" }>;

interface Run {
  child: ChildProcess;
  messages: WorkerToManager[];
  /** What the worker asked for, in order. */
  asks: Ask[];
  stdout: string[];
  stderr: string[];
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  waitFor(pred: (m: WorkerToManager) => boolean): Promise<WorkerToManager>;
}

/** Answers each ask for credentials as `answer` says (the manager's role here). */
function startWorker(answer: (ask: Ask) => AuthAnswer): Run {
  // What the manager passes: nothing secret, only what a Node process needs.
  const env = { PATH: process.env.PATH ?? "" };
  const child = fork(WORKER, [], { env, execArgv: [], serialization: "json", stdio: ["ignore", "pipe", "pipe", "ipc"] });
  const messages: WorkerToManager[] = [];
  const asks: Ask[] = [];
  const stdout: string[] = [];
  const stderr: string[] = [];
  const waiters: Array<{ pred: (m: WorkerToManager) => boolean; resolve: (m: WorkerToManager) => void }> = [];
  child.stdout?.on("data", (d: Buffer) => stdout.push(d.toString()));
  child.stderr?.on("data", (d: Buffer) => stderr.push(d.toString()));
  child.on("message", (m: WorkerToManager) => {
    messages.push(m);
    if (m.type === "auth") {
      asks.push(m);
      child.send(answer(m));
    }
    // The manager answers a checkpoint once the edge stored it; the worker polls only after that.
    if (m.type === "checkpoint") child.send({ type: "checkpoint", ref: m.ref, stored: true });
    for (const w of [...waiters]) {
      if (!w.pred(m)) continue;
      waiters.splice(waiters.indexOf(w), 1);
      w.resolve(m);
    }
  });
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) =>
    child.on("exit", (code, signal) => resolve({ code, signal })),
  );
  return {
    child,
    messages,
    asks,
    stdout,
    stderr,
    exited,
    waitFor: (pred) => {
      const found = messages.find(pred);
      return found ? Promise.resolve(found) : new Promise((resolve) => waiters.push({ pred, resolve }));
    },
  };
}

/** Sends like the manager; start messages get a short poll interval so deploys finish quickly. */
const send = (run: Run, msg: ManagerToWorker) => run.child.send(msg.type === "start" ? { pollIntervalMs: 5, ...msg } : msg);
const isDone = (m: WorkerToManager): m is Extract<WorkerToManager, { type: "done" }> => m.type === "done";
async function waitDone(run: Run): Promise<Extract<WorkerToManager, { type: "done" }>> {
  await run.waitFor(isDone);
  const done = run.messages.find(isDone);
  if (!done) throw new Error("no done message");
  return done;
}

describe("the worker process over IPC", () => {
  let org: SalesforceOrgDouble;
  let uat: OrgAuth;
  /** The manager's part: the org `uat` of PROJECT is registered, nothing else is. */
  const manager = (ask: Ask): AuthAnswer =>
    ask.project === PROJECT && ask.alias === "uat"
      ? { type: "auth", auth: uat }
      : {
          type: "auth",
          error: { code: "credentials_not_found", message: `no credentials for org "${ask.alias}"; run: sfp-edge org register --alias ${ask.alias}` },
        };

  beforeAll(async () => {
    org = await startSalesforceOrg();
    uat = parseSfdxAuthUrl(org.authUrl);
  });
  afterAll(async () => {
    await org.close();
  });
  beforeEach(() => {
    org.controls.deployPolls = 3;
    org.controls.componentFailures = [];
  });

  /** Every secret the worker held or saw, in the forms that could leak. */
  const secrets = () => [org.refreshToken, org.clientSecret, ...org.issuedTokens].flatMap((s) => [s, encodeURIComponent(s)]);
  const assertNoSecret = (text: string) => {
    for (const s of secrets()) expect(text.includes(s), `a secret leaked into: ${text.slice(0, 200)}`).toBe(false);
  };

  it("says ready, runs a deploy from a start message, streams events, reports done, and exits 0", async () => {
    const run = startWorker(manager);
    await run.waitFor((m) => m.type === "ready");
    // While it runs: nothing secret in its argv or environment.
    const [cmdline, environ] = await Promise.all([readFile(`/proc/${run.child.pid}/cmdline`, "utf8"), readFile(`/proc/${run.child.pid}/environ`, "utf8")]);
    send(run, { type: "start", task: task("deploy", { zipBase64: ZIP }) });
    const done = await waitDone(run);
    expect(await run.exited).toEqual({ code: 0, signal: null });

    expect(run.messages[0]).toEqual({ type: "ready" });
    expect(run.messages.at(-1)).toBe(done);
    expect(done).toMatchObject({ type: "done", outcome: "succeeded", result: { status: "Succeeded", success: true } });
    const events = run.messages.filter((m) => m.type === "event").map((m) => m.event);
    expect(events.some((e) => e.type === "progress" && e.percent === 100)).toBe(true);
    expect(events.some((e) => e.type === "log" && e.lines.some((l) => l.startsWith("deploy on uat")))).toBe(true);
    const deployId = (done.result as { id: string }).id;
    expect(run.messages.filter((m) => m.type === "checkpoint")).toEqual([
      { type: "checkpoint", ref: 1, checkpoint: { operation: "deploy", salesforceId: deployId } },
    ]);
    // The access tokens it minted go to the manager (to mask its output), in their own message only.
    const reported = run.messages.flatMap((m) => (m.type === "secrets" ? m.values : []));
    expect(reported).toEqual(org.issuedTokens.slice(-reported.length));
    expect(reported.length).toBeGreaterThan(0);
    const said = run.messages.filter((m) => m.type !== "secrets");
    for (const text of [cmdline, environ, JSON.stringify(said), run.stdout.join(""), run.stderr.join("")]) assertNoSecret(text);
    expect(
      run.stderr
        .join("")
        .trim()
        .split("\n")
        .every((l) => JSON.parse(l).component === "worker"),
    ).toBe(true);
  });

  it("masks secrets that Salesforce echoes back, in events and in the result", async () => {
    const token = () => org.issuedTokens.at(-1) ?? "";
    // A failure message that quotes credentials, plain and URL-encoded (it happens with misconfigured callouts).
    org.controls.componentFailures = [
      {
        componentType: "ApexClass",
        fullName: "Leaky",
        fileName: "classes/Leaky.cls",
        problem: `callout failed: refresh_token=${org.refreshToken}&client_secret=${encodeURIComponent(org.clientSecret)}`,
      },
    ];
    const run = startWorker(manager);
    await run.waitFor((m) => m.type === "ready");
    send(run, { type: "start", task: task("deploy", { zipBase64: ZIP }) });
    const done = await waitDone(run);
    await run.exited;
    expect(done).toMatchObject({ outcome: "failed", error: { code: "deploy_failed" } });
    const all = JSON.stringify(run.messages.filter((m) => m.type !== "secrets"));
    expect(all).toContain("callout failed: refresh_token=***&client_secret=***");
    assertNoSecret(all);
    expect(token()).not.toBe("");
  });

  it("cancels a running deploy on a cancel message: cancelDeploy, done canceled, exit 0", async () => {
    org.controls.deployPolls = 100_000;
    const run = startWorker(manager);
    await run.waitFor((m) => m.type === "ready");
    send(run, { type: "start", task: task("deploy", { zipBase64: ZIP }) });
    await run.waitFor((m) => m.type === "event" && m.event.type === "progress" && m.event.step === "InProgress");
    send(run, { type: "cancel", reason: "user asked" });
    const done = await waitDone(run);
    expect(await run.exited).toEqual({ code: 0, signal: null });
    expect(done).toMatchObject({ outcome: "canceled", result: { status: "Canceled" } });
    expect(org.requests.some((r) => r.body.includes("<cancelDeploy>"))).toBe(true);
  });

  it("treats SIGTERM as a cancel and still reports done", async () => {
    org.controls.deployPolls = 100_000;
    const run = startWorker(manager);
    await run.waitFor((m) => m.type === "ready");
    send(run, { type: "start", task: task("deploy", { zipBase64: ZIP }) });
    await run.waitFor((m) => m.type === "event" && m.event.type === "progress" && m.event.step === "InProgress");
    run.child.kill("SIGTERM");
    const done = await waitDone(run);
    expect(done.outcome).toBe("canceled");
    expect((await run.exited).code).toBe(0);
  });

  it("fails a bad payload with invalid_payload without calling Salesforce", async () => {
    const before = org.requests.length;
    const run = startWorker(manager);
    await run.waitFor((m) => m.type === "ready");
    send(run, { type: "start", task: task("query", { soql: "" }) });
    const done = await waitDone(run);
    await run.exited;
    expect(done).toEqual({ type: "done", outcome: "failed", error: { code: "invalid_payload", message: expect.stringContaining("payload.soql") } });
    expect(org.requests.length).toBe(before);
    // Nor asked the manager for the org's credentials: they are fetched only once the payload is good.
    expect(run.asks).toEqual([]);
  });

  it("asks for its task's org once, only after start, and gets nothing it did not ask for", async () => {
    const run = startWorker(manager);
    await run.waitFor((m) => m.type === "ready");
    expect(run.asks).toEqual([]);
    send(run, { type: "start", task: task("org-check", {}) });
    const done = await waitDone(run);
    await run.exited;
    expect(done.outcome).toBe("succeeded");
    expect(run.asks).toEqual([{ type: "auth", project: PROJECT, alias: "uat" }]);
  });

  it("fails with the manager's answer when it has no credentials for the org", async () => {
    const run = startWorker(manager);
    await run.waitFor((m) => m.type === "ready");
    send(run, { type: "start", task: task("org-check", {}, "prod") });
    const done = await waitDone(run);
    expect((await run.exited).code).toBe(0);
    expect(done).toMatchObject({
      outcome: "failed",
      error: { code: "credentials_not_found", message: expect.stringContaining("sfp-edge org register --alias prod") },
    });
  });

  it("fails with credentials_unavailable when the manager refuses its ask", async () => {
    const run = startWorker(() => ({ type: "auth", error: { code: "credentials_refused", message: "credentials refused: test" } }));
    await run.waitFor((m) => m.type === "ready");
    send(run, { type: "start", task: task("org-check", {}) });
    const done = await waitDone(run);
    await run.exited;
    expect(done).toMatchObject({ outcome: "failed", error: { code: "credentials_unavailable", message: "credentials refused: test" } });
  });

  it("exits when the manager disconnects before sending a job", async () => {
    const run = startWorker(manager);
    await run.waitFor((m) => m.type === "ready");
    run.child.disconnect();
    expect((await run.exited).code).toBe(0);
  });
});
