// The org lock (issue 13): tasks that change an org run one at a time per org (or up to the org's
// maxConcurrentDeploys), in priority then arrival order; the lock belongs to the task through lapsed
// leases and requeues, and passes on at its terminal state or cancel; read-only types never wait.
import { evictDurableObject } from "cloudflare:test";
import { describe, expect, it } from "vitest";
import { api, createTask, openSocket, putOrg, setup } from "./helpers.ts";
import { events, line, orgActor, until } from "./org-lock-helpers.ts";
import { accept, finish, fireTimers, poll, pollOne, readTask, register, taskActor } from "./runner-helpers.ts";

function cancel(token: string, taskId: string) {
  return api("POST", `/v1/tasks/${taskId}/cancel`, { token });
}

async function runOne(runnerToken: string, expectTaskId: string) {
  const offer = await pollOne(runnerToken);
  expect(offer.taskId).toBe(expectTaskId);
  const res = await accept(runnerToken, offer.taskId, offer.assignmentId);
  expect(res.status).toBe(200);
  return res.body;
}

describe("one org, one deploy at a time", () => {
  it("holds the second deploy at position 1 behind the first, offers it only once the first finished", async () => {
    const { project, owner } = await setup();
    const runner = await register(project, owner, { slots: 4 });
    const first = await createTask(project, owner);
    const second = await createTask(project, owner, { type: "validate" });
    expect(first.waitingFor).toBeUndefined();
    expect(second.status).toBe("queued");
    expect(second.waitingFor).toEqual({ org: "demo", position: 1, holder: first.id });
    expect(await line(project)).toEqual([
      { taskId: first.id, holding: true },
      { taskId: second.id, holding: false },
    ]);

    // Only the holder is offered, however many slots the runner has.
    const offers = await poll(runner.runnerToken, { freeSlots: 4 });
    expect(offers.body.assignments.map((a: { taskId: string }) => a.taskId)).toEqual([first.id]);
    const lease = (await accept(runner.runnerToken, first.id, offers.body.assignments[0].assignmentId)).body;
    expect((await readTask(owner, second.id)).waitingFor).toEqual({ org: "demo", position: 1, holder: first.id });
    expect((await poll(runner.runnerToken, { freeSlots: 3 })).status).toBe(204);

    // The list and the events show where it stands.
    const list = await api("GET", `/v1/projects/${project}/tasks`, { token: owner });
    expect(list.body.tasks.find((t: { id: string }) => t.id === second.id).waitingFor).toEqual({ org: "demo", position: 1, holder: first.id });
    expect((await events(owner, second.id)).filter((e) => e.type === "lock")).toEqual([
      expect.objectContaining({ type: "lock", org: "demo", state: "waiting", position: 1, holder: first.id }),
    ]);

    expect((await finish(lease)).status).toBe(200);
    const next = await until(owner, second.id, (t) => t.waitingFor === undefined, "holding the lock");
    expect(next.status).toBe("queued");
    expect((await events(owner, second.id)).at(-1)).toMatchObject({ type: "lock", state: "held", org: "demo" });
    await runOne(runner.runnerToken, second.id);
    expect(await line(project)).toEqual([{ taskId: second.id, holding: true }]);
  });

  it("runs deploys to two orgs in parallel", async () => {
    const { project, owner } = await setup();
    await putOrg(project, owner, "uat");
    const runner = await register(project, owner, { slots: 2 });
    const a = await createTask(project, owner, { org: "demo" });
    const b = await createTask(project, owner, { org: "uat" });
    expect(a.waitingFor).toBeUndefined();
    expect(b.waitingFor).toBeUndefined();
    const offers = await poll(runner.runnerToken, { freeSlots: 2 });
    expect(offers.body.assignments.map((x: { taskId: string }) => x.taskId).sort()).toEqual([a.id, b.id].sort());
  });

  it("never makes read-only types wait: retrieve, run-tests, query and org-check pass a held lock", async () => {
    const { project, owner } = await setup();
    const runner = await register(project, owner, { slots: 5 });
    const deploy = await createTask(project, owner);
    const readers = [];
    for (const type of ["retrieve", "run-tests", "query", "org-check"]) readers.push(await createTask(project, owner, { type }));
    for (const r of readers) expect(r.waitingFor).toBeUndefined();
    const offers = await poll(runner.runnerToken, { freeSlots: 5 });
    expect(offers.body.assignments.map((x: { taskId: string }) => x.taskId).sort()).toEqual([deploy.id, ...readers.map((r) => r.id)].sort());
    expect(await line(project)).toEqual([{ taskId: deploy.id, holding: true }]);
  });

  it("orders the line by priority, then arrival", async () => {
    const { project, owner } = await setup();
    const holder = await createTask(project, owner);
    const batch = await createTask(project, owner, { priority: "batch" });
    const normal = await createTask(project, owner);
    const critical = await createTask(project, owner, { priority: "critical" });
    expect((await readTask(owner, critical.id)).waitingFor?.position).toBe(1);
    expect((await readTask(owner, normal.id)).waitingFor?.position).toBe(2);
    expect((await readTask(owner, batch.id)).waitingFor?.position).toBe(3);
    expect((await line(project)).map((r) => r.taskId)).toEqual([holder.id, critical.id, normal.id, batch.id]);
  });

  it("lets maxConcurrentDeploys tasks hold the lock at once, and a raised limit lets waiters in at once", async () => {
    const { project, owner } = await setup();
    const tasks = [await createTask(project, owner), await createTask(project, owner), await createTask(project, owner)];
    expect(tasks.map((t) => t.waitingFor?.position ?? 0)).toEqual([0, 1, 2]);
    const org = await putOrg(project, owner, "demo", { maxConcurrentDeploys: 2 });
    expect(org.maxConcurrentDeploys).toBe(2);
    await until(owner, tasks[1].id, (t) => t.waitingFor === undefined, "holding");
    const third = await until(owner, tasks[2].id, (t) => t.waitingFor?.position === 1, "first in line");
    expect(third.waitingFor?.holder).toBe(tasks[0].id);
    expect((await line(project)).filter((r) => r.holding)).toHaveLength(2);
  });
});

describe("cancel and the lock", () => {
  it("takes a canceled waiting task out of the line at once, moving those behind it up", async () => {
    const { project, owner } = await setup();
    const holder = await createTask(project, owner);
    const second = await createTask(project, owner);
    const third = await createTask(project, owner);
    expect(third.waitingFor?.position).toBe(2);
    const res = await cancel(owner, second.id);
    expect(res.status).toBe(202);
    expect(res.body.task.status).toBe("canceled");
    expect(res.body.task.waitingFor).toBeUndefined();
    expect((await line(project)).map((r) => r.taskId)).toEqual([holder.id, third.id]);
    await until(owner, third.id, (t) => t.waitingFor?.position === 1, "first in line");
  });

  it("passes the lock on when its running holder is canceled", async () => {
    const { project, owner } = await setup();
    const runner = await register(project, owner);
    const holder = await createTask(project, owner);
    const next = await createTask(project, owner);
    const lease = await runOne(runner.runnerToken, holder.id);
    expect((await cancel(owner, holder.id)).body.task.status).toBe("canceling");
    // Canceling still holds the lock: the runner may still be deploying.
    expect((await readTask(owner, next.id)).waitingFor?.position).toBe(1);
    expect((await finish(lease, { outcome: "canceled" })).body.task.status).toBe("canceled");
    await until(owner, next.id, (t) => t.waitingFor === undefined, "holding");
    await runOne(runner.runnerToken, next.id);
  });

  it("passes the lock on when a queued holder is canceled before any runner took it", async () => {
    const { project, owner } = await setup();
    const runner = await register(project, owner);
    const holder = await createTask(project, owner);
    const next = await createTask(project, owner);
    expect((await cancel(owner, holder.id)).body.task.status).toBe("canceled");
    await until(owner, next.id, (t) => t.waitingFor === undefined, "holding");
    await runOne(runner.runnerToken, next.id);
  });
});

describe("the lock belongs to the task, not its runner", () => {
  it("keeps the lock through a lapsed lease and the requeue; the next attempt runs before the waiter", async () => {
    const { project, owner } = await setup();
    const runner = await register(project, owner);
    const holder = await createTask(project, owner, { maxAttempts: 2 });
    const waiter = await createTask(project, owner);
    await runOne(runner.runnerToken, holder.id);
    await fireTimers(taskActor(holder.id), "lease");
    const requeued = await readTask(owner, holder.id);
    expect(requeued.status).toBe("queued");
    expect(requeued.attempt).toBe(2);
    expect(await line(project)).toEqual([
      { taskId: holder.id, holding: true },
      { taskId: waiter.id, holding: false },
    ]);
    expect((await readTask(owner, waiter.id)).waitingFor).toEqual({ org: "demo", position: 1, holder: holder.id });
    const again = await runOne(runner.runnerToken, holder.id);
    expect((await finish(again)).status).toBe(200);
    await until(owner, waiter.id, (t) => t.waitingFor === undefined, "holding");
  });

  it("gives the lock back when the last attempt is lost", async () => {
    const { project, owner } = await setup();
    const runner = await register(project, owner);
    const holder = await createTask(project, owner, { maxAttempts: 1 });
    const waiter = await createTask(project, owner);
    await runOne(runner.runnerToken, holder.id);
    await fireTimers(taskActor(holder.id), "lease");
    expect((await readTask(owner, holder.id)).error?.code).toBe("lost");
    await until(owner, waiter.id, (t) => t.waitingFor === undefined, "holding");
  });
});

describe("eviction mid-wait", () => {
  it("loses no place and no grant when the org actor and the tasks are evicted while they wait", async () => {
    const { project, owner } = await setup();
    const runner = await register(project, owner);
    const holder = await createTask(project, owner);
    const waiter = await createTask(project, owner);
    const lease = await runOne(runner.runnerToken, holder.id);
    await evictDurableObject(orgActor(project));
    await evictDurableObject(taskActor(waiter.id));
    await evictDurableObject(taskActor(holder.id));
    expect((await readTask(owner, waiter.id)).waitingFor).toEqual({ org: "demo", position: 1, holder: holder.id });
    expect((await finish(lease)).status).toBe(200);
    await until(owner, waiter.id, (t) => t.waitingFor === undefined, "holding");
    await runOne(runner.runnerToken, waiter.id);
  });
});

describe("the project feed", () => {
  it("shows a waiting task's place and its grant", async () => {
    const { project, owner } = await setup();
    const { socket } = await openSocket(`/v1/projects/${project}/ws`, owner);
    if (!socket) throw new Error("no feed");
    const holder = await createTask(project, owner);
    const waiter = await createTask(project, owner);
    await socket.until((m) => m.some((x) => x.type === "task" && x.task.id === waiter.id && x.task.waitingFor?.position === 1));
    await cancel(owner, holder.id);
    await socket.until((m) => m.some((x) => x.type === "task" && x.task.id === waiter.id && x.task.version > 2 && !x.task.waitingFor));
    socket.close();
  });
});
