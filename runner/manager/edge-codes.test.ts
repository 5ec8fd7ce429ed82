// The manager decides on the contract's error codes (protocol/retry.ts), not on bare statuses: a
// proxy's page without the contract's body is retried by the code its status stands for, a 429's
// Retry-After is waited out, and `gone` on a lease renewal ends the job without a finish.
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { EdgeRunnerApiDouble } from "../../test/doubles/edge-runner-api.ts";
import { startTestManager, stopTestManager, type TestManager } from "./testing.ts";

let edge: EdgeRunnerApiDouble;
let manager: TestManager | undefined;

beforeEach(async () => {
  edge = await EdgeRunnerApiDouble.start({ leaseSeconds: 6, heartbeatSeconds: 1, pollWaitSeconds: 1 });
});

afterEach(async () => {
  await stopTestManager(manager, edge);
  manager = undefined;
});

const finished = (taskId: string) => () => edge.task(taskId).finish;

describe("the manager on the edge's error codes", () => {
  it("resends events after a proxy's 502 page and after a 429, waiting out its Retry-After, and loses none", async () => {
    edge.inject({ method: "POST", path: /\/events$/, action: { status: 502, raw: "<html><body>502 Bad Gateway</body></html>" } });
    edge.inject({ method: "POST", path: /\/events$/, action: { status: 429, code: "rate_limited", retryAfter: 2 } });
    manager = startTestManager(edge);
    const taskId = edge.enqueueTask({ payload: { fake: { events: 20 } } });
    await edge.waitFor(finished(taskId), 30_000, "finish");
    const posts = edge.callsTo("POST", new RegExp(`/v1/jobs/${taskId}/events$`));
    expect(posts.map((p) => p.status).slice(0, 3)).toEqual([502, 429, 200]);
    // The edge asked for 2 s; the events backoff alone would have come back after ~250 ms.
    expect(posts[2].at - posts[1].at).toBeGreaterThanOrEqual(1_900);
    expect([...edge.task(taskId).events.keys()].sort((a, b) => a - b)).toEqual(Array.from({ length: 20 }, (_, i) => i + 1));
    expect(manager.metrics.render()).toMatch(/sfp_runner_edge_errors_total\{call="events",code="unavailable"\} 1/);
  });

  it("stops the job when a lease renewal answers gone, and sends no finish for it", async () => {
    manager = startTestManager(edge);
    const taskId = edge.enqueueTask({ payload: { fake: { sleepMs: 30_000 } } });
    await edge.waitFor(() => edge.task(taskId).status === "running", 10_000, "running");
    edge.inject({ method: "POST", path: new RegExp(`/v1/jobs/${taskId}/heartbeat$`), action: { status: 410, code: "gone" } });
    const ended = await edge.waitFor(() => manager?.logged("job ended")[0], 20_000, "job ended");
    expect(ended).toMatchObject({ taskId, outcome: "lost", stopReason: "gone" });
    expect(edge.callsTo("POST", /\/finish$/)).toEqual([]);
  });
});
