// Issue 17, B2: the edge sends a new queued task's entry to its dispatcher in parallel with the
// task's creation, so a parked poll is answered one durable commit earlier; an accept that arrives
// before its task waits for it; an entry whose task never comes is dropped without blocking a later
// creation; tasks born anything but straight into the queue are never sent early.
import { env, runInDurableObject } from "cloudflare:test";
import { describe, expect, it } from "vitest";
import { queueEntry, type NewTask } from "../../common/messages.ts";
import { mintTaskId } from "../../common/task-ids.ts";
import { BIRTH_WAIT_MS } from "../../actors/task-actor.ts";
import { bornQueueEntry, bornTask } from "../../actors/task-state.ts";
import { createTask as createAtEdge, newTask } from "../../edge/new-task.ts";
import type { Assignment } from "../../protocol/index.ts";
import { api, createTask, putOrg, setup, watchTimers } from "./helpers.ts";
import { accept, dispatcher, finish, fireTimers, parkedPoll, poll, pollOne, readTask, register, taskActor } from "./runner-helpers.ts";

const ids = (assignments: Assignment[]) => assignments.map((a) => a.taskId);

async function input(project: string, body: Record<string, unknown> = {}): Promise<NewTask> {
  const id = await mintTaskId(env.TOKEN_SIGNING_KEY);
  return newTask(env, id, project, { type: "query", org: "demo", ...body }, { kind: "api", tokenId: "tok_test" });
}

/** The queue entry the task's actor would send for `task` at `at`, sent early as the edge does. */
async function sendEarly(task: NewTask, at: string): Promise<void> {
  const entry = bornQueueEntry(bornTask(task, at));
  if (!entry) throw new Error("not a task born into the queue");
  await dispatcher(task.project).enqueueEarly(entry);
}

/** A project with a runner, a task not yet created whose entry went early, and the offer of it. */
async function offeredEarly() {
  const { project, owner } = await setup();
  const runner = await register(project, owner);
  const task = await input(project);
  const at = new Date().toISOString();
  await sendEarly(task, at);
  const offer = await pollOne(runner.runnerToken);
  return { project, owner, runner, task, at, offer };
}

/** Whether the pool remembers an attempt of the task as departed (which would refuse its later enqueues). */
function departed(project: string, taskId: string): Promise<boolean> {
  return runInDurableObject(
    dispatcher(project),
    (_instance, state) => state.storage.sql.exec("SELECT 1 FROM sfp_left WHERE task_id = ?", taskId).toArray().length > 0,
  );
}

describe("the early enqueue", () => {
  it("answers a parked poll while the task's actor is still busy creating the task", async () => {
    const { project, owner } = await setup();
    const runner = await register(project, owner);
    const parked = (await parkedPoll(runner.runnerToken, 10)).answer;
    const task = await input(project);
    // The task's actor takes no request until released: its birth (and so its outbox) waits.
    let released = false;
    const held = runInDurableObject(taskActor(task.id), (_instance, state) =>
      state.blockConcurrencyWhile(async () => {
        while (!released) await new Promise((resolve) => setTimeout(resolve, 5));
      }),
    );
    const created = createAtEdge(env, task, { fresh: true });
    const res = await parked;
    released = true;
    await held;
    expect(res.status).toBe(200);
    expect(ids(res.body.assignments)).toEqual([task.id]);
    expect((await created).created).toBe(true);
    const lease = await accept(runner.runnerToken, task.id, res.body.assignments[0].assignmentId);
    expect(lease.status).toBe(200);
    expect(lease.body.task.status).toBe("running");
  });

  it("offers an API-created task once: the outbox's enqueue is a recognised repeat", async () => {
    const { project, owner } = await setup();
    const runner = await register(project, owner);
    const task = await createTask(project, owner, { type: "query" });
    const [offered] = (await poll(runner.runnerToken, { freeSlots: 2 })).body.assignments;
    expect(offered.taskId).toBe(task.id);
    // The row was confirmed by the outbox (the task exists), and its entry is the one the actor made.
    const row = await runInDurableObject(dispatcher(project), (_instance, state) =>
      state.storage.sql.exec<{ early: number; created_at: string }>("SELECT early, created_at FROM sfp_queue WHERE task_id = ?", task.id).one(),
    );
    expect(row).toEqual({ early: 0, created_at: task.createdAt });
    const lease = await accept(runner.runnerToken, task.id, offered.assignmentId);
    expect(lease.status).toBe(200);
    expect(await dispatcher(project).queued()).toEqual([]);
    await finish(lease.body);
    // A late repeat of the early entry after the task ran is refused by the queue's memory.
    await dispatcher(project).enqueueEarly(queueEntry(task));
    expect(await dispatcher(project).queued()).toEqual([]);
  });

  it("lets an accept that arrives before its task wait for the task, then grants the lease", async () => {
    const { project, runner, task, at, offer } = await offeredEarly();
    expect(offer.taskId).toBe(task.id);
    const timers = watchTimers();
    const accepting = accept(runner.runnerToken, task.id, offer.assignmentId);
    // The accept is waiting at the task's actor (its bounded wait is armed) before the task exists.
    await timers.armed(BIRTH_WAIT_MS);
    await taskActor(task.id).create(task, at);
    const lease = await accepting;
    expect(lease.status).toBe(200);
    expect(lease.body.task).toMatchObject({ id: task.id, status: "running", attempt: 1 });
    expect(lease.body.leaseEpoch).toBe(1);
    expect(await dispatcher(project).queued()).toEqual([]);
  });

  it("drops an entry whose task never comes, without keeping a later creation of the same id out", async () => {
    const { project, runner, task, at, offer } = await offeredEarly();
    const refused = await accept(runner.runnerToken, task.id, offer.assignmentId);
    expect(refused.status).toBe(409);
    expect(refused.body.error?.code).toBe("assignment_expired");
    expect(await dispatcher(project).queued()).toEqual([]);
    expect(await departed(project, task.id)).toBe(false);
    // The creation comes late after all: its outbox queues it, and it runs.
    await taskActor(task.id).create(task, at);
    expect(await dispatcher(project).queued()).toEqual([task.id]);
    const again = await pollOne(runner.runnerToken);
    expect(again.taskId).toBe(task.id);
    const lease = await accept(runner.runnerToken, task.id, again.assignmentId);
    expect(lease.status).toBe(200);
    expect(lease.body.task.status).toBe("running");
  });

  it("drops an unconfirmed entry at its queue TTL instead of failing a task that does not exist", async () => {
    const { project } = await setup();
    const task = await input(project);
    const at = new Date().toISOString();
    await sendEarly(task, at);
    expect(await dispatcher(project).queued()).toEqual([task.id]);
    await fireTimers(dispatcher(project), "ttl:");
    expect(await dispatcher(project).queued()).toEqual([]);
    expect(await departed(project, task.id)).toBe(false);
    await taskActor(task.id).create(task, at);
    expect(await dispatcher(project).queued()).toEqual([task.id]);
  });

  it("keeps today's refusal for a task canceled while its early entry waited", async () => {
    const { project, owner, runner, task, at, offer } = await offeredEarly();
    await taskActor(task.id).create(task, at);
    expect((await api("POST", `/v1/tasks/${task.id}/cancel`, { token: owner })).status).toBe(202);
    const refused = await accept(runner.runnerToken, task.id, offer.assignmentId);
    expect(refused.status).toBe(410);
    // Canceled is final: a repeat of the early entry cannot put it back.
    await dispatcher(project).enqueueEarly(queueEntry({ ...(await readTask(owner, task.id)) }));
    expect(await dispatcher(project).queued()).toEqual([]);
  });
});

describe("what is never sent early", () => {
  it("decides with one function: straight to the queue only for a queued, lock-free first attempt", async () => {
    const { project } = await setup();
    const now = new Date().toISOString();
    const later = new Date(Date.now() + 3_600_000).toISOString();
    const query = await input(project);
    expect(bornQueueEntry(bornTask(query, now))).toEqual(queueEntry(bornTask(query, now)));
    expect(bornQueueEntry(bornTask(await input(project, { type: "deploy" }), now))).toBeNull();
    expect(bornQueueEntry(bornTask(await input(project, { runAt: later }), now))).toBeNull();
  });

  it("never queues a task with a future runAt before its time", async () => {
    const { project, owner } = await setup();
    const task = await createTask(project, owner, { type: "query", runAt: new Date(Date.now() + 3_600_000).toISOString() });
    expect(task.status).toBe("scheduled");
    expect(await dispatcher(project).queued()).toEqual([]);
  });

  it("never queues a deploy that waits for its org's lock", async () => {
    const { project, owner } = await setup();
    const first = await createTask(project, owner, { type: "deploy" });
    const second = await createTask(project, owner, { type: "deploy" });
    expect(second.status).toBe("queued");
    const queued = await dispatcher(project).queued();
    expect(queued).not.toContain(second.id);
    expect(queued.filter((id) => id !== first.id)).toEqual([]);
  });

  it("sends nothing early for an Idempotency-Key retry, whose task may be anywhere by now", async () => {
    const { project, owner } = await setup();
    const headers = { "idempotency-key": "retry-early-1" };
    const task = await createTask(project, owner, { type: "query" }, headers);
    // The org moves to another pool: a retry's early entry would land in that pool's queue.
    await putOrg(project, owner, "demo", { pool: "other" });
    const retry = await api("POST", `/v1/projects/${project}/tasks`, { token: owner, body: { type: "query", org: "demo" }, headers });
    expect(retry.status).toBe(200);
    expect(retry.body.task.id).toBe(task.id);
    expect(await dispatcher(project, "other").queued()).toEqual([]);
    expect(await dispatcher(project).queued()).toEqual([task.id]);
  });
});
