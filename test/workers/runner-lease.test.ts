import { runInDurableObject } from "cloudflare:test";
import { describe, expect, it, vi } from "vitest";
import type { TaskActor } from "../../actors/task-actor.ts";
import { api, createTask, setup } from "./helpers.ts";
import {
  accept,
  dispatcher,
  finish,
  fireTimers,
  jobEvents,
  jobHeartbeat,
  pollOne,
  readTask,
  register,
  running,
  runnerHeartbeat,
  taskActor,
} from "./runner-helpers.ts";

/** LEASE_SECONDS in the workers project (vitest.config.ts). */
const LEASE_MS = 60_000;
describe("accept", () => {
  it("answers the same lease when an accept whose answer was lost is retried", async () => {
    const { owner, runner, task, offer, lease } = await running();
    const again = await accept(runner.runnerToken, task.id, offer.assignmentId);
    expect(again.status).toBe(200);
    expect(again.body.leaseEpoch).toBe(lease.leaseEpoch);
    expect(again.body.jobToken).toBe(lease.jobToken);
    expect((await readTask(owner, task.id)).version).toBe(lease.task.version);
  });

  it("still answers the lease to a retry that comes after the accept deadline", async () => {
    const { runner, task, offer, lease } = await running();
    await fireTimers(dispatcher(lease.task.project), "accept:");
    const again = await accept(runner.runnerToken, task.id, offer.assignmentId);
    expect(again.status).toBe(200);
    expect(again.body.leaseEpoch).toBe(lease.leaseEpoch);
  });

  it("answers 409 to an accept of an assignment that expired unaccepted, and offers the task again", async () => {
    const { project, owner } = await setup();
    const runner = await register(project, owner);
    const task = await createTask(project, owner);
    const first = await pollOne(runner.runnerToken);
    await fireTimers(dispatcher(project), "accept:");
    const late = await accept(runner.runnerToken, task.id, first.assignmentId);
    expect(late.status).toBe(409);
    expect(late.body.error?.code).toBe("assignment_expired");
    const second = await pollOne(runner.runnerToken);
    expect(second.taskId).toBe(task.id);
    expect(second.assignmentId).not.toBe(first.assignmentId);
    expect((await accept(runner.runnerToken, task.id, second.assignmentId)).status).toBe(200);
  });

  it("answers 409 to an unknown assignment", async () => {
    const { runner, task } = await running();
    expect((await accept(runner.runnerToken, task.id, "asg_nope")).status).toBe(409);
  });
});

describe("two runners racing for one task", () => {
  it("offers one task to exactly one of two parked polls", async () => {
    const { project, owner } = await setup();
    const a = await register(project, owner, { name: "a" });
    const b = await register(project, owner, { name: "b" });
    const polls = [a, b].map((r) => api("POST", "/v1/runners/poll", { token: r.runnerToken, body: { freeSlots: 1, waitSeconds: 2 } }));
    await new Promise((r) => setTimeout(r, 100));
    const task = await createTask(project, owner);
    const answers = await Promise.all(polls);
    expect(answers.map((x) => x.status).sort()).toEqual([200, 204]);
    expect(answers.find((x) => x.status === 200)!.body.assignments.map((x: { taskId: string }) => x.taskId)).toEqual([task.id]);
  });

  it("gives the lease to exactly one runner when an expired offer and its re-offer are both accepted", async () => {
    const { project, owner } = await setup();
    const a = await register(project, owner, { name: "a" });
    const b = await register(project, owner, { name: "b" });
    const task = await createTask(project, owner);
    const offerA = await pollOne(a.runnerToken);
    await fireTimers(dispatcher(project), "accept:");
    const offerB = await pollOne(b.runnerToken);
    const [ra, rb] = await Promise.all([accept(a.runnerToken, task.id, offerA.assignmentId), accept(b.runnerToken, task.id, offerB.assignmentId)]);
    expect([ra.status, rb.status]).toEqual([409, 200]);
    expect((await readTask(owner, task.id)).status).toBe("running");
  });

  it("answers 409 to a runner accepting another runner's assignment", async () => {
    const { project, owner } = await setup();
    const a = await register(project, owner, { name: "a" });
    const b = await register(project, owner, { name: "b" });
    const task = await createTask(project, owner);
    const offer = await pollOne(a.runnerToken);
    expect((await accept(b.runnerToken, task.id, offer.assignmentId)).status).toBe(409);
    expect((await accept(a.runnerToken, task.id, offer.assignmentId)).status).toBe(200);
  });
});

describe("job tokens", () => {
  it("answers 403 when a job token is used for another task", async () => {
    const one = await running();
    const other = await createTask(one.project, one.owner);
    const res = await jobHeartbeat(one.lease, other.id);
    expect(res.status).toBe(403);
  });

  it("answers 403 when a job token is used for runner calls or a runner token for job calls", async () => {
    const { runner, lease } = await running();
    expect((await runnerHeartbeat(lease.jobToken)).status).toBe(403);
    expect((await jobHeartbeat({ ...lease, jobToken: runner.runnerToken })).status).toBe(403);
  });

  it("renews the lease with a job heartbeat", async () => {
    const { lease } = await running();
    const granted = Date.parse(lease.leaseExpiresAt);
    // Once the clock has moved past the accept, a renewal is a later expiry than the one granted.
    await vi.waitFor(() => expect(Date.now()).toBeGreaterThan(granted - LEASE_MS));
    const before = Date.now();
    const res = await jobHeartbeat(lease);
    expect(res.status).toBe(200);
    expect(Date.parse(res.body.leaseExpiresAt)).toBeGreaterThan(granted);
    expect(Date.parse(res.body.leaseExpiresAt)).toBeGreaterThanOrEqual(before + LEASE_MS);
    expect(res.body.cancelRequested).toBe(false);
  });
});

describe("a runner that stops heartbeating", () => {
  it("requeues the task with attempt+1 when the lease lapses, then fails it as lost after max attempts, keeping its logs", async () => {
    const { owner, runner, task, lease } = await running({ maxAttempts: 2 });
    expect((await jobEvents(lease, [{ seq: 1, type: "log", lines: ["first attempt"] }])).body.ackedSeq).toBe(1);
    await fireTimers(taskActor(task.id), "lease");
    const requeued = await readTask(owner, task.id);
    expect(requeued).toMatchObject({ status: "queued", attempt: 2 });

    const offer = await pollOne(runner.runnerToken);
    const second = (await accept(runner.runnerToken, task.id, offer.assignmentId)).body;
    expect(second.leaseEpoch).toBe(2);
    await jobEvents(second, [{ seq: 1, type: "log", lines: ["second attempt"] }]);
    await fireTimers(taskActor(task.id), "lease");
    const lost = await readTask(owner, task.id);
    expect(lost.status).toBe("failed");
    expect(lost.error?.code).toBe("lost");
    expect((await api("GET", `/v1/tasks/${task.id}/logs`, { token: owner })).body).toBe("first attempt\nsecond attempt\n");
    expect((await jobEvents(second, [{ seq: 2, type: "log", lines: ["too late"] }])).status).toBe(409);
    expect((await finish(second)).status).toBe(409);
    const events = (await api("GET", `/v1/tasks/${task.id}/events?after=0`, { token: owner })).body.events;
    expect(events.map((e: { seq: number }) => e.seq)).toEqual(events.map((_: unknown, i: number) => i + 1));
    expect(events.filter((e: { type: string }) => e.type === "status").map((e: { status: string; attempt: number }) => `${e.status}/${e.attempt}`)).toEqual([
      "queued/1",
      "running/1",
      "queued/2",
      "running/2",
      "failed/2",
    ]);
  });

  it("answers 409 to a zombie finish, heartbeat or events after its lease was requeued and taken", async () => {
    const { project, owner, task, lease } = await running();
    await fireTimers(taskActor(task.id), "lease");
    const other = await register(project, owner, { name: "b" });
    const offer = await pollOne(other.runnerToken);
    const fresh = (await accept(other.runnerToken, task.id, offer.assignmentId)).body;
    expect((await finish(lease)).status).toBe(409);
    expect((await jobHeartbeat(lease)).status).toBe(409);
    expect((await jobEvents(lease, [{ seq: 1, type: "log", lines: ["zombie"] }])).body.error.code).toBe("stale_lease");
    expect((await finish(fresh)).status).toBe(200);
  });

  it("changes nothing when the lease alarm runs twice", async () => {
    const { owner, task } = await running();
    const stub = taskActor(task.id);
    await fireTimers(stub, "lease");
    const once = await readTask(owner, task.id);
    await runInDurableObject(stub, async (instance: TaskActor) => {
      await instance.alarm();
      await instance.alarm();
    });
    const twice = await readTask(owner, task.id);
    expect(twice).toMatchObject({ status: "queued", attempt: 2, version: once.version });
  });
});

describe("finish", () => {
  it("answers the same 200 to the same finish again, and 409 to a different one", async () => {
    const { lease } = await running();
    const first = await finish(lease, { outcome: "failed", error: { code: "deploy_failed", message: "3 components failed" } });
    expect(first.status).toBe(200);
    const again = await finish(lease, { outcome: "failed", error: { code: "deploy_failed", message: "3 components failed" } });
    expect(again.status).toBe(200);
    expect(again.body).toEqual(first.body);
    expect(first.body.task.error).toEqual({ code: "deploy_failed", message: "3 components failed" });
    expect((await finish(lease, { outcome: "succeeded" })).status).toBe(409);
  });

  it("answers 410 to events and heartbeats after the finish", async () => {
    const { lease } = await running();
    await finish(lease);
    expect((await jobEvents(lease, [{ seq: 1, type: "log", lines: ["late"] }])).status).toBe(410);
    expect((await jobHeartbeat(lease)).status).toBe(410);
  });

  it("refuses outcome canceled when no cancel was requested", async () => {
    const { lease } = await running();
    expect((await finish(lease, { outcome: "canceled" })).status).toBe(409);
  });
});

describe("runner revoked mid-task", () => {
  it("answers 401 to the runner, requeues its task, and refuses the old lease with 409", async () => {
    const { project, owner, runner, task, lease } = await running();
    expect((await api("DELETE", `/v1/projects/${project}/runners/${runner.runnerId}`, { token: owner })).status).toBe(204);
    expect((await runnerHeartbeat(runner.runnerToken)).status).toBe(401);
    expect(await readTask(owner, task.id)).toMatchObject({ status: "queued", attempt: 2 });
    expect((await jobHeartbeat(lease)).status).toBe(409);
    const other = await register(project, owner, { name: "b" });
    expect((await pollOne(other.runnerToken)).taskId).toBe(task.id);
  });
});
