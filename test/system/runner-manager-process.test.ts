// `node runner/main.ts` as a real process against the edge double: signals, draining, ephemeral runs,
// and its stdout being JSON lines without a secret.
import { spawn, type ChildProcess } from "node:child_process";
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { createInterface } from "node:readline";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { EdgeRunnerApiDouble } from "../doubles/edge-runner-api.ts";

const ROOT = resolve(import.meta.dirname, "..", "..");
const MAIN = join(ROOT, "runner", "main.ts");
const FAKE_WORKER = join(ROOT, "test", "doubles", "fake-worker.ts");
const LOCAL_KEY = "local-credentials-key-for-process-tests";
const ORIGIN_TOKEN = "origin-token-for-process-tests";

interface ManagerProcess {
  child: ChildProcess;
  records: Record<string, unknown>[];
  stdout: string[];
  /** Everything the manager (and the workers it forks, which inherit it) wrote to stderr. */
  stderr(): string;
  exit: Promise<number | null>;
  waitForLog(msg: string, timeoutMs?: number): Promise<Record<string, unknown>>;
}

let edge: EdgeRunnerApiDouble;
let running: ManagerProcess[] = [];

beforeEach(async () => {
  edge = await EdgeRunnerApiDouble.start({ heartbeatSeconds: 1, pollWaitSeconds: 1, leaseSeconds: 3 });
});

afterEach(async () => {
  for (const m of running) if (m.child.exitCode === null && m.child.signalCode === null) m.child.kill("SIGKILL");
  running = [];
  await edge.close();
});

function startManager(extraEnv: Record<string, string> = {}): ManagerProcess {
  const dir = mkdtempSync(join(tmpdir(), "sfp-manager-"));
  const child = spawn(process.execPath, [MAIN], {
    cwd: ROOT,
    env: {
      PATH: process.env.PATH,
      HOME: dir,
      SFP_EDGE_URL: edge.url,
      SFP_REGISTRATION_TOKEN: edge.addRegistrationToken(),
      SFP_RUNNER_NAME: "process-test",
      SFP_RUNNER_STATE_FILE: join(dir, "state.json"),
      SFP_RUNNER_LISTEN: "127.0.0.1:0",
      SFP_ORIGIN_TOKEN: ORIGIN_TOKEN,
      SFP_WORKER_ENTRY: FAKE_WORKER,
      SFP_TASK_CANCEL_GRACE_SECONDS: "0.3",
      SFP_TASK_KILL_GRACE_SECONDS: "0.3",
      SFP_CREDENTIALS: "local",
      SFP_LOCAL_CREDENTIALS_FILE: join(dir, "credentials.json"),
      SFP_LOCAL_CREDENTIALS_KEY: LOCAL_KEY,
      ...extraEnv,
    },
    stdio: ["ignore", "pipe", "pipe"],
  });
  const records: Record<string, unknown>[] = [];
  const stdout: string[] = [];
  const waiters: { msg: string; resolve: (r: Record<string, unknown>) => void }[] = [];
  createInterface({ input: child.stdout! }).on("line", (line) => {
    stdout.push(line);
    let record: Record<string, unknown>;
    try {
      record = JSON.parse(line) as Record<string, unknown>;
    } catch {
      return;
    }
    records.push(record);
    for (const w of waiters.filter((w) => w.msg === record.msg)) w.resolve(record);
  });
  let stderr = "";
  child.stderr!.on("data", (c: Buffer) => (stderr += c.toString()));
  const exit = new Promise<number | null>((res) => child.on("exit", (code) => res(code)));
  const m: ManagerProcess = {
    child,
    records,
    stdout,
    stderr: () => stderr,
    exit,
    waitForLog: (msg, timeoutMs = 15_000) => {
      const seen = records.find((r) => r.msg === msg);
      if (seen) return Promise.resolve(seen);
      return new Promise((resolvePromise, reject) => {
        const timer = setTimeout(() => reject(new Error(`no "${msg}" log within ${timeoutMs} ms; stderr: ${stderr.slice(-2000)}`)), timeoutMs);
        waiters.push({
          msg,
          resolve: (r) => {
            clearTimeout(timer);
            resolvePromise(r);
          },
        });
      });
    },
  };
  running.push(m);
  return m;
}

describe("the runner manager process", () => {
  it("on SIGTERM drains: finishes the running job, takes no new one, keeps heartbeating as draining, exits 0", async () => {
    const m = startManager();
    const first = edge.enqueueTask({ payload: { fake: { sleepMs: 2_500 } } });
    await edge.waitFor(() => edge.task(first).status === "running", 20_000, "first running");
    m.child.kill("SIGTERM");
    await m.waitForLog("draining");
    const second = edge.enqueueTask();
    expect(await m.exit).toBe(0);
    expect(edge.task(first).finish?.body.outcome).toBe("succeeded");
    expect(edge.task(second).status).toBe("queued");
    expect(edge.callsTo("POST", new RegExp(`/v1/jobs/${second}/accept$`))).toEqual([]);
    const runner = [...edge.runners.values()][0];
    expect(runner.heartbeats.some((b) => b.state === "draining" && b.activeTasks.includes(first))).toBe(true);
    expect(edge.callsTo("DELETE", /\/v1\/runners\/self$/)).toEqual([]);
  });

  it("on a second SIGTERM stops the running job (cancel, SIGTERM, SIGKILL) and exits, the task failed with runner_shutdown", async () => {
    const m = startManager();
    const taskId = edge.enqueueTask({ payload: { fake: { sleepMs: 60_000, ignoreCancel: true } } });
    await m.waitForLog("fake worker started", 20_000);
    m.child.kill("SIGTERM");
    await m.waitForLog("draining");
    m.child.kill("SIGTERM");
    expect(await m.exit).toBe(0);
    const finish = edge.task(taskId).finish;
    expect(finish?.body.outcome).toBe("failed");
    expect(finish?.body.error?.code).toBe("runner_shutdown");
    expect(m.records.filter((r) => r.msg === "signalling the worker").map((r) => r.signal)).toEqual(["SIGTERM", "SIGKILL"]);
  });

  it("in ephemeral mode runs one job, deregisters and exits 0", async () => {
    const m = startManager({ SFP_RUNNER_EPHEMERAL: "true" });
    const first = edge.enqueueTask();
    const second = edge.enqueueTask();
    expect(await m.exit).toBe(0);
    expect(edge.task(first).finish?.body.outcome).toBe("succeeded");
    expect(edge.task(second).status).toBe("queued");
    expect(edge.callsTo("DELETE", /\/v1\/runners\/self$/).map((c) => c.status)).toEqual([204]);
  });

  it("writes only JSON lines, none holding a token or key", async () => {
    const m = startManager({ SFP_LOG_LEVEL: "debug" });
    const taskId = edge.enqueueTask({ payload: { fake: { events: 3 } } });
    await edge.waitFor(() => edge.task(taskId).finish, 20_000, "finish");
    m.child.kill("SIGTERM");
    expect(await m.exit).toBe(0);
    expect(m.stdout.length).toBeGreaterThan(5);
    for (const line of m.stdout) expect(() => JSON.parse(line)).not.toThrow();
    const registration = (edge.callsTo("POST", /\/v1\/runners\/register$/)[0].body as { registrationToken: string }).registrationToken;
    const secrets = [registration, [...edge.runners.values()][0].token, edge.task(taskId).jobToken ?? "", ORIGIN_TOKEN, LOCAL_KEY];
    expect(secrets.every((s) => s.length >= 16)).toBe(true);
    // Both streams: stdout is the JSON log; stderr must stay empty (nothing is printed around the logger).
    for (const text of [m.stdout.join("\n"), m.stderr()]) for (const secret of secrets) expect(text).not.toContain(secret);
    expect(m.stderr()).toBe("");
    expect(m.records.find((r) => r.msg === "job ended")).toMatchObject({ taskId, outcome: "succeeded" });
  });

  it("refuses to start (exit 2) when the configuration is invalid, naming the variable", async () => {
    const m = startManager({ SFP_RUNNER_SLOTS: "zero" });
    expect(await m.exit).toBe(2);
    expect(JSON.stringify(m.records)).toContain("SFP_RUNNER_SLOTS");
  });
});
