// Poll → accept → spawn → events → finish, against the edge double, with the fake worker.
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { EdgeRunnerApiDouble } from "../../test/doubles/edge-runner-api.ts";
import { FAKE_CREDENTIALS, secretLadenEnv, startTestManager, stopTestManager, type TestManager } from "./testing.ts";

let edge: EdgeRunnerApiDouble;
let manager: TestManager | undefined;

beforeEach(async () => {
  edge = await EdgeRunnerApiDouble.start();
});

afterEach(async () => {
  await stopTestManager(manager, edge);
  manager = undefined;
});

const finished = (taskId: string) => () => edge.task(taskId).finish;

describe("a job from poll to finish", () => {
  it("polls, accepts, runs the worker and finishes the task with the worker's outcome and result", async () => {
    manager = startTestManager(edge);
    const taskId = edge.enqueueTask({ payload: { fake: { events: 3 } } });
    const finish = await edge.waitFor(finished(taskId), 15_000, "finish");
    expect(finish.body.outcome).toBe("succeeded");
    expect(finish.body.result).toEqual({ ok: true, taskId });
    expect(edge.task(taskId).status).toBe("succeeded");
    const accepts = edge.callsTo("POST", /\/accept$/);
    expect(accepts).toHaveLength(1);
    expect(accepts[0].status).toBe(200);
    // Every poll offered at least one free slot; the worker's lines reached the edge in order.
    for (const poll of edge.callsTo("POST", /\/v1\/runners\/poll$/)) expect((poll.body as { freeSlots: number }).freeSlots).toBeGreaterThan(0);
    expect([...edge.task(taskId).events.values()].map((e) => e.seq)).toEqual([1, 2, 3]);
    // The job's own log lines carry the task id.
    const ended = await edge.waitFor(() => manager?.logged("job ended")[0], 5_000, "job ended");
    expect(ended).toMatchObject({ taskId, outcome: "succeeded" });
    expect(manager.logged("fake worker started")[0]).toMatchObject({ taskId, source: "worker" });
    await edge.waitFor(() => manager?.agent.state === "idle", 5_000, "idle");
  });

  it("retries an accept whose answer was lost, with the same assignmentId, and runs the job once", async () => {
    edge.inject({ method: "POST", path: /\/accept$/, action: "drop" });
    manager = startTestManager(edge);
    const taskId = edge.enqueueTask();
    const finish = await edge.waitFor(finished(taskId), 15_000, "finish");
    expect(finish.body.outcome).toBe("succeeded");
    const accepts = edge.callsTo("POST", new RegExp(`/v1/jobs/${taskId}/accept$`));
    expect(accepts.map((c) => c.status)).toEqual([-1, 200]);
    expect(accepts[0].body).toEqual(accepts[1].body);
    expect(manager.metrics.jobsStarted).toBe(1);
    expect(manager.metrics.render()).toMatch(/sfp_runner_edge_errors_total\{call="accept",code="network"\} 1/);
  });

  it("polls only while it has a free slot, taking the next task once the running one is done", async () => {
    manager = startTestManager(edge, { slots: 1 });
    const first = edge.enqueueTask({ payload: { fake: { sleepMs: 1_500 } } });
    const second = edge.enqueueTask();
    await edge.waitFor(finished(first), 10_000, "first finished");
    await edge.waitFor(finished(second), 10_000, "second finished");
    const firstAccepted = edge.callsTo("POST", new RegExp(`/v1/jobs/${first}/accept$`))[0].at;
    const firstFinished = edge.callsTo("POST", new RegExp(`/v1/jobs/${first}/finish$`))[0].at;
    const secondAccepted = edge.callsTo("POST", new RegExp(`/v1/jobs/${second}/accept$`))[0].at;
    const polls = edge.callsTo("POST", /\/v1\/runners\/poll$/);
    expect(polls.filter((p) => p.at > firstAccepted && p.at < firstFinished)).toEqual([]);
    for (const poll of polls) expect((poll.body as { freeSlots: number }).freeSlots).toBe(1);
    expect(secondAccepted).toBeGreaterThanOrEqual(firstFinished);
    expect(edge.task(second).finish?.body.outcome).toBe("succeeded");
  });

  it("numbers worker events with gapless seqs, sends them in batches, and resends a batch whose post failed", async () => {
    edge.inject({ method: "POST", path: /\/events$/, action: { status: 503, code: "unavailable" } });
    edge.inject({ method: "POST", path: /\/events$/, action: "drop" });
    manager = startTestManager(edge);
    const taskId = edge.enqueueTask({ payload: { fake: { events: 120 } } });
    await edge.waitFor(finished(taskId), 15_000, "finish");
    const stored = [...edge.task(taskId).events.keys()].sort((a, b) => a - b);
    expect(stored).toEqual(Array.from({ length: 120 }, (_, i) => i + 1));
    const posts = edge.callsTo("POST", /\/events$/);
    // Batched: far fewer posts than events, and the failed batches were sent again from seq 1.
    expect(posts.length).toBeLessThan(20);
    expect(posts.map((p) => p.status).slice(0, 3)).toEqual([503, -1, 200]);
    const firstSeqs = posts.slice(0, 3).map((p) => (p.body as { events: { seq: number }[] }).events[0].seq);
    expect(firstSeqs).toEqual([1, 1, 1]);
    // Every post carries the lease epoch, and the finish came after the last event was acknowledged.
    for (const p of posts) expect((p.body as { leaseEpoch: number }).leaseEpoch).toBe(edge.task(taskId).leaseEpoch);
    const finishCall = edge.callsTo("POST", /\/finish$/)[0];
    expect(finishCall.at).toBeGreaterThanOrEqual(posts[posts.length - 1].at);
  });

  it("hands the worker its job over IPC only, with no credential store: nothing secret in its env, argv or messages", async () => {
    const env = secretLadenEnv(edge.url);
    manager = startTestManager(edge, { env });
    const taskId = edge.enqueueTask({ payload: { fake: { report: true } } });
    const finish = await edge.waitFor(finished(taskId), 15_000, "finish");
    const report = finish.body.result as { env: Record<string, string>; argv: string[]; execArgv: string[]; received: Array<{ type: string }> };
    expect(report.received.map((m) => Object.keys(m).sort())).toEqual([["task", "type"]]);
    const childEnvNames = Object.keys(report.env);
    expect(childEnvNames.filter((n) => /^(SFP|INFISICAL|SUPABASE)_/i.test(n))).toEqual([]);
    expect(childEnvNames.filter((n) => /TOKEN|SECRET|KEY|PASSWORD/i.test(n))).toEqual([]);
    expect(report.env.LANG).toBe("C.UTF-8");
    const secrets = [
      "rgt_secret_registration_token",
      "origin-token-secret-value",
      FAKE_CREDENTIALS.provider === "local" ? FAKE_CREDENTIALS.key : "",
      "infisical-client-secret-value",
      "supabase-service-key-value",
      "ghp_not_for_workers",
      "aws-secret-not-for-workers",
      edge.task(taskId).jobToken ?? "",
      [...edge.runners.values()][0].token,
    ];
    const childVisible = JSON.stringify({ env: report.env, argv: report.argv, execArgv: report.execArgv, received: report.received });
    for (const secret of secrets) expect(childVisible).not.toContain(secret);
    expect(report.argv.slice(2)).toEqual([]);
    // Nor in the manager's own log lines.
    const logText = manager.logs.join("\n");
    for (const secret of [edge.task(taskId).jobToken ?? "", [...edge.runners.values()][0].token]) expect(logText).not.toContain(secret);
  });
});
