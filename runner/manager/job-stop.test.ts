// Stopping a job: cancellation, a lost lease, the task timeout, a crashed worker — and the lease
// renewals that keep going while a worker burns CPU.
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { EdgeRunnerApiDouble } from "../../test/doubles/edge-runner-api.ts";
import { startTestManager, stopTestManager, type TestManager } from "./testing.ts";

let edge: EdgeRunnerApiDouble;
let manager: TestManager | undefined;

beforeEach(async () => {
  // A 3 s lease renewed every second keeps these tests short.
  edge = await EdgeRunnerApiDouble.start({ leaseSeconds: 3, heartbeatSeconds: 1, pollWaitSeconds: 1 });
});

afterEach(async () => {
  await stopTestManager(manager, edge);
  manager = undefined;
});

const finished = (taskId: string) => () => edge.task(taskId).finish;
const running = (taskId: string) => () => edge.task(taskId).status === "running";
const jobHeartbeats = (taskId: string) => edge.callsTo("POST", new RegExp(`/v1/jobs/${taskId}/heartbeat$`));
const logLines = (taskId: string) => [...edge.task(taskId).events.values()].flatMap((e) => (e.type === "log" ? e.lines : []));
/**
 * Resolves once the worker has taken its job (its first log line reached the edge): a cancel sent
 * before then would meet a worker still starting, which is stopped with a signal by design.
 */
const workerRunning = (taskId: string) => edge.waitFor(() => logLines(taskId).includes("line 1"), 20_000, "the worker's first log line");

describe("stopping a job", () => {
  it("keeps renewing the lease every third of it while the worker burns CPU, and the job succeeds", async () => {
    // A 6 s lease renewed every 2 s: a busy machine may delay a renewal by seconds without losing it.
    edge.settings.leaseSeconds = 6;
    manager = startTestManager(edge);
    const taskId = edge.enqueueTask({ payload: { fake: { burnMs: 8_000 } } });
    const finish = await edge.waitFor(finished(taskId), 40_000, "finish");
    expect(finish.body.outcome).toBe("succeeded");
    const beats = jobHeartbeats(taskId);
    // 8 s of burning with a 6 s lease: without renewals the double's alarm would have requeued it.
    expect(beats.length).toBeGreaterThanOrEqual(3);
    expect(beats.every((b) => b.status === 200)).toBe(true);
    expect(edge.task(taskId).task.attempt).toBe(1);
  }, 60_000);

  it("on cancelRequested sends the worker a cancel, then SIGTERM, then SIGKILL after the grace period, and finishes canceled", async () => {
    manager = startTestManager(edge, { cancelGraceMs: 300, killGraceMs: 300 });
    const taskId = edge.enqueueTask({ payload: { fake: { events: 1, sleepMs: 30_000, ignoreCancel: true } } });
    await workerRunning(taskId);
    edge.cancelTask(taskId);
    const finish = await edge.waitFor(finished(taskId), 15_000, "finish");
    expect(finish.body.outcome).toBe("canceled");
    expect(logLines(taskId)).toEqual(["line 1", "cancel received: the task was canceled", "SIGTERM received (ignored)"]);
    const signals = manager.logged("signalling the worker").map((r) => r.signal);
    expect(signals).toEqual(["SIGTERM", "SIGKILL"]);
    // Logged just after the edge acknowledged the finish.
    const ended = await edge.waitFor(() => manager?.logged("job ended")[0], 5_000, "job ended");
    expect(ended).toMatchObject({ taskId, outcome: "canceled", signal: "SIGKILL" });
  });

  it("lets a worker that honours the cancel stop by itself, without any signal", async () => {
    manager = startTestManager(edge, { cancelGraceMs: 5_000 });
    const taskId = edge.enqueueTask({ payload: { fake: { events: 1, sleepMs: 30_000 } } });
    await workerRunning(taskId);
    edge.cancelTask(taskId);
    expect((await edge.waitFor(finished(taskId), 10_000, "finish")).body.outcome).toBe("canceled");
    expect(manager.logged("signalling the worker")).toEqual([]);
  });

  it("cancels a job when a runner heartbeat answer carries a cancel action", async () => {
    // A long lease: the first job heartbeat (which would also say cancelRequested) is 10 s away.
    edge.settings.leaseSeconds = 30;
    manager = startTestManager(edge);
    const taskId = edge.enqueueTask({ payload: { fake: { events: 1, sleepMs: 30_000 } } });
    await workerRunning(taskId);
    edge.cancelTask(taskId);
    edge.queueAction(manager.agent.runnerId ?? "", { type: "cancel", taskId });
    expect((await edge.waitFor(finished(taskId), 10_000, "finish")).body.outcome).toBe("canceled");
    expect(jobHeartbeats(taskId)).toEqual([]);
  });

  it("stops the job when a lease renewal gets 409, sends no finish for the lost epoch, and runs the requeued task again", async () => {
    manager = startTestManager(edge);
    // The first attempt sleeps until its lease is taken away; the second finishes at once.
    const taskId = edge.enqueueTask({ payload: { fake: { sleepMs: 30_000, retry: { events: 1 } } } });
    await edge.waitFor(running(taskId), 10_000, "running");
    edge.loseLease(taskId);
    const lost = await edge.waitFor(() => manager?.logged("job ended")[0], 10_000, "job ended");
    expect(lost).toMatchObject({ taskId, outcome: "lost", stopReason: "lease_lost" });
    expect(
      jobHeartbeats(taskId)
        .filter((b) => (b.body as { leaseEpoch: number }).leaseEpoch === 1)
        .at(-1)?.status,
    ).toBe(409);
    // The requeued task comes back to this runner (the only one) under a new epoch and runs again.
    const finish = await edge.waitFor(finished(taskId), 20_000, "the second attempt's finish");
    expect(finish.body.outcome).toBe("succeeded");
    expect(finish.body.leaseEpoch).toBeGreaterThan(1);
    expect(finish.body.leaseEpoch).toBe(edge.task(taskId).leaseEpoch);
    const accepts = edge.callsTo("POST", new RegExp(`/v1/jobs/${taskId}/accept$`));
    expect(accepts.map((c) => c.status)).toEqual([200, 200]);
    expect(edge.task(taskId).task).toMatchObject({ attempt: 2, status: "succeeded" });
    expect(logLines(taskId)).toEqual(["line 1"]);
    // No finish was ever sent for the lost epoch 1.
    const finishes = edge.callsTo("POST", /\/finish$/).map((c) => (c.body as { leaseEpoch: number }).leaseEpoch);
    expect(finishes).toEqual([finish.body.leaseEpoch]);
    expect(manager.metrics.render()).toMatch(/sfp_runner_jobs_finished_total\{outcome="lost"\} 1/);
    expect(manager.metrics.render()).toMatch(/sfp_runner_jobs_finished_total\{outcome="succeeded"\} 1/);
  }, 60_000);

  it("stops a job that outlives task.timeoutSeconds and finishes it failed with error.code timeout", async () => {
    manager = startTestManager(edge);
    const taskId = edge.enqueueTask({ timeoutSeconds: 1, payload: { fake: { sleepMs: 30_000, ignoreCancel: true } } });
    const finish = await edge.waitFor(finished(taskId), 15_000, "finish");
    expect(finish.body.outcome).toBe("failed");
    expect(finish.body.error).toEqual({ code: "timeout", message: "the task ran longer than its timeout of 1 s" });
  });

  it("finishes the task failed with error.code worker_crashed when the worker exits without an outcome", async () => {
    manager = startTestManager(edge);
    const taskId = edge.enqueueTask({ payload: { fake: { events: 2, crashWithCode: 7 } } });
    const finish = await edge.waitFor(finished(taskId), 15_000, "finish");
    expect(finish.body.outcome).toBe("failed");
    expect(finish.body.error).toEqual({ code: "worker_crashed", message: "the worker exited with code 7 before reporting an outcome" });
    // Events sent before the crash are delivered before the finish.
    expect(logLines(taskId)).toEqual(["line 1", "line 2"]);
  });
});
