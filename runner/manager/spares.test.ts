// Warm spares: a worker forked and ready before the job, handed to the next accepted job; replaced
// when it dies or idles too long; killed on drain; as free of secrets as any worker.
import { readFileSync } from "node:fs";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { EdgeRunnerApiDouble } from "../../test/doubles/edge-runner-api.ts";
import { createLogger } from "./log.ts";
import { SparePool } from "./spares.ts";
import { FAKE_CREDENTIALS, FAKE_WORKER, secretLadenEnv, startTestManager, stopTestManager, type TestManager } from "./testing.ts";

let edge: EdgeRunnerApiDouble;
let manager: TestManager | undefined;

beforeEach(async () => {
  edge = await EdgeRunnerApiDouble.start({ heartbeatSeconds: 1, pollWaitSeconds: 1 });
});

afterEach(async () => {
  await stopTestManager(manager, edge);
  manager = undefined;
});

const finished = (taskId: string) => () => edge.task(taskId).finish;

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

/** The pid of a spare that said ready (other than `except`), once one has. */
function readySpare(m: TestManager, except: number[] = []): () => number | undefined {
  return () =>
    m
      .logged("spare ready")
      .map((r) => r.pid as number)
      .find((pid) => !except.includes(pid) && m.agent.spares.pids().includes(pid));
}

describe("warm spares", () => {
  it("runs a job accepted while a spare is ready in that spare, forking nothing for it, and forks the next spare", async () => {
    manager = startTestManager(edge);
    const spare = await edge.waitFor(readySpare(manager), 10_000, "a ready spare");
    const forkedBefore = manager.logged("spare forked").length;
    expect(forkedBefore).toBe(1);

    const taskId = edge.enqueueTask({ payload: { fake: { report: true } } });
    const finish = await edge.waitFor(finished(taskId), 15_000, "finish");
    expect(finish.body.outcome).toBe("succeeded");
    const report = finish.body.result as { pid: number; received: Array<{ type: string }> };
    // The job ran in the process forked before it was accepted; the job itself forked nothing.
    expect(report.pid).toBe(spare);
    expect(manager.logged("worker spawned")).toEqual([]);
    expect(manager.logged("worker taken from spares")[0]).toMatchObject({ taskId, pid: spare, ready: true });
    // It got its task and nothing else: no credential store settings.
    expect(report.received.map((m) => m.type)).toEqual(["start"]);
    expect(JSON.stringify(report.received)).not.toContain(FAKE_CREDENTIALS.provider === "local" ? FAKE_CREDENTIALS.key : "");
    // The next spare was forked in the background and is ready for the next job.
    const next = await edge.waitFor(readySpare(manager, [spare]), 10_000, "the next spare");
    expect(next).not.toBe(spare);
    expect(manager.agent.spares.pids()).toEqual([next]);
  });

  it("replaces a spare that dies, and the next job runs in the replacement", async () => {
    manager = startTestManager(edge);
    const first = await edge.waitFor(readySpare(manager), 10_000, "a ready spare");
    process.kill(first, "SIGKILL");
    const died = await edge.waitFor(() => manager?.logged("spare died; replacing it")[0], 5_000, "the death noticed");
    expect(died).toMatchObject({ pid: first, ready: true, how: "exited with code null / signal SIGKILL" });
    const second = await edge.waitFor(readySpare(manager, [first]), 10_000, "a replacement spare");

    const taskId = edge.enqueueTask({ payload: { fake: { report: true } } });
    const finish = await edge.waitFor(finished(taskId), 15_000, "finish");
    expect((finish.body.result as { pid: number }).pid).toBe(second);
  });

  it("kills its spares when draining, and the manager exits", async () => {
    const m = startTestManager(edge, { slots: 2 });
    manager = m;
    await edge.waitFor(() => (m.logged("spare ready").length >= 2 ? true : undefined), 10_000, "two ready spares");
    const pids = m.agent.spares.pids();
    expect(pids).toHaveLength(2);
    m.agent.drain("test");
    expect(await m.exit).toBe(0);
    manager = undefined;
    expect(m.agent.spares.pids()).toEqual([]);
    for (const pid of pids) expect(alive(pid)).toBe(false);
    expect(m.logged("spare forked")).toHaveLength(2);
  });

  it("keeps no spare once an ephemeral runner has its one job", async () => {
    const m = startTestManager(edge, { ephemeral: true });
    manager = m;
    const spare = await edge.waitFor(readySpare(m), 10_000, "a ready spare");
    const taskId = edge.enqueueTask({ payload: { fake: { report: true } } });
    expect(await m.exit).toBe(0);
    manager = undefined;
    expect(edge.task(taskId).finish?.body.result).toMatchObject({ pid: spare });
    expect(m.logged("spare forked")).toHaveLength(1);
  });

  it("forks spares with nothing secret in their env or argv", async () => {
    const env = secretLadenEnv(edge.url);
    manager = startTestManager(edge, { env });
    const spare = await edge.waitFor(readySpare(manager), 10_000, "a ready spare");
    const environ = readFileSync(`/proc/${spare}/environ`, "utf8").split("\0").filter(Boolean);
    const argv = readFileSync(`/proc/${spare}/cmdline`, "utf8").split("\0").filter(Boolean);
    const names = environ.map((kv) => kv.slice(0, kv.indexOf("=")));
    expect(names.filter((n) => /^(SFP|INFISICAL|SUPABASE)_/i.test(n))).toEqual([]);
    expect(names.filter((n) => /TOKEN|SECRET|KEY|PASSWORD/i.test(n))).toEqual([]);
    expect(environ).toContain("LANG=C.UTF-8");
    const visible = JSON.stringify({ environ, argv });
    const secrets = [
      "rgt_secret_registration_token",
      "origin-token-secret-value",
      FAKE_CREDENTIALS.provider === "local" ? FAKE_CREDENTIALS.key : "",
      "infisical-client-secret-value",
      "supabase-service-key-value",
      "ghp_not_for_workers",
      "aws-secret-not-for-workers",
      [...edge.runners.values()][0].token,
    ];
    for (const secret of secrets) expect(visible).not.toContain(secret);
    // node and the worker program, nothing else: no argument, no inspector or loader flag.
    expect(argv).toEqual([process.execPath, FAKE_WORKER]);
  });
});

describe("the spare pool", () => {
  it("retires a spare that idled longer than its bound and forks a fresh one", async () => {
    const logs: string[] = [];
    const pool = new SparePool({
      config: { workerEntry: FAKE_WORKER, workerEnvPassthrough: [] },
      env: process.env,
      log: createLogger({ level: "debug", write: (line) => logs.push(line) }),
      wanted: () => 1,
      maxIdleMs: 300,
    });
    const logged = (msg: string) => logs.map((l) => JSON.parse(l) as Record<string, unknown>).filter((r) => r.msg === msg);
    try {
      pool.refill();
      const retired = await edge.waitFor(() => logged("spare retired after idling")[0], 10_000, "a retirement");
      const old = retired.pid as number;
      const fresh = await edge.waitFor(() => logged("spare ready").find((r) => r.pid !== old), 10_000, "a fresh spare");
      expect(fresh.pid).not.toBe(old);
      await edge.waitFor(() => (alive(old) ? undefined : true), 5_000, "the retired spare gone");
      expect(logged("spare died; replacing it")).toEqual([]);
    } finally {
      const pids = pool.pids();
      await pool.close();
      for (const pid of pids) expect(alive(pid)).toBe(false);
    }
  });
});
