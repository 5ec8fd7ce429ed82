// Issue 11, "outbox rows without a timer": a TaskActor reset between the commit of a change and the
// sending of the messages it owes (the dispatcher's enqueue) must still get them delivered — by the
// retry timer armed in that same commit, or when the actor next starts.
import { env, runInDurableObject } from "cloudflare:test";
import { describe, expect, it } from "vitest";
import type { NewTask } from "../../common/messages.ts";
import { sha256Hex } from "../../common/tokens.ts";
import { OUTBOX_RETRY, retryDelay } from "../../actors/outbox.ts";
import { newId } from "../../protocol/index.ts";
import { api, setup } from "./helpers.ts";
import { accept, pollOne, readTask, register, running, taskActor } from "./runner-helpers.ts";

type Senders = Record<string, (body: unknown) => Promise<unknown>>;

/** What a send saw of the actor's storage at the moment it was attempted. */
interface AtSend {
  timers: string[];
  alarm: number | null;
  outboxRows: number;
}

/**
 * Makes the actor's next `kind` send wait for the commit before it to be durable, note what storage
 * holds, and reset the actor — a crash after the commit and before the message left.
 */
function resetOnSend(instance: unknown, state: DurableObjectState, kind: string, seen: AtSend[]): void {
  const senders: Senders = (instance as { outbox: { senders: Senders } }).outbox.senders;
  senders[kind] = async () => {
    await state.storage.sync();
    seen.push({
      timers: state.storage.sql
        .exec<{ name: string }>("SELECT name FROM sfp_timers")
        .toArray()
        .map((r) => r.name),
      alarm: await state.storage.getAlarm(),
      outboxRows: state.storage.sql.exec<{ n: number }>("SELECT COUNT(*) AS n FROM sfp_outbox").one().n,
    });
    state.abort("reset between commit and send");
  };
}

function apiTask(id: string, project: string, body: { type: "deploy"; org: string }): NewTask {
  return {
    id,
    project,
    type: body.type,
    org: body.org,
    payload: {},
    priority: "normal",
    pool: "default",
    labels: [],
    timeoutSeconds: 3600,
    maxAttempts: 3,
    source: { kind: "api", tokenId: "tok_test" },
  };
}

describe("the task outbox", () => {
  it("arms its retry timer in the commit that writes the rows, before any send", async () => {
    const { project, owner } = await setup();
    await register(project, owner);
    const id = newId("tsk");
    const seen: AtSend[] = [];
    const create = runInDurableObject(taskActor(id), async (instance, state) => {
      resetOnSend(instance, state, "enqueue", seen);
      await (instance as unknown as { create(input: NewTask): Promise<unknown> }).create(apiTask(id, project, { type: "deploy", org: "demo" }));
    });
    await expect(create).rejects.toThrow();
    expect(seen).toHaveLength(1);
    expect(seen[0].outboxRows).toBeGreaterThan(0);
    expect(seen[0].timers).toContain("outbox");
    expect(seen[0].alarm).not.toBeNull();
  });

  it("delivers a create's enqueue after the actor was reset between commit and send: a retried Idempotency-Key finds the task queued for runners", async () => {
    const { project, owner } = await setup();
    const runner = await register(project, owner);
    const body = { type: "deploy" as const, org: "demo" };
    const key = "retry-after-reset";
    const id = newId("tsk");
    // The first try: the edge claimed the key for `id`, the actor committed the task, then died.
    await env.PROJECT.get(env.PROJECT.idFromName(project)).claimIdempotencyKey(key, await sha256Hex(JSON.stringify(body)), id);
    const seen: AtSend[] = [];
    const create = runInDurableObject(taskActor(id), async (instance, state) => {
      resetOnSend(instance, state, "enqueue", seen);
      await (instance as unknown as { create(input: NewTask): Promise<unknown> }).create(apiTask(id, project, body));
    });
    await expect(create).rejects.toThrow();
    expect(seen).toHaveLength(1);
    // The client retries with the same key: the same task, and now the queue has it.
    const retry = await api("POST", `/v1/projects/${project}/tasks`, { token: owner, body, headers: { "idempotency-key": key } });
    expect(retry.status).toBe(200);
    expect(retry.body.task).toMatchObject({ id, status: "queued" });
    const offer = await pollOne(runner.runnerToken);
    expect(offer.taskId).toBe(id);
  });

  it("delivers a lapsed lease's requeue after the actor was reset between commit and send", async () => {
    const { owner, runner, task } = await running();
    const seen: AtSend[] = [];
    await runInDurableObject(taskActor(task.id), (_i, state) => {
      state.storage.sql.exec("UPDATE sfp_timers SET at = ? WHERE name = 'lease'", Date.now() - 1);
    });
    const lapse = runInDurableObject(taskActor(task.id), async (instance, state) => {
      resetOnSend(instance, state, "enqueue", seen);
      await (instance as unknown as { alarm(): Promise<void> }).alarm();
    });
    await expect(lapse).rejects.toThrow();
    expect(seen).toHaveLength(1);
    expect(seen[0].timers).toContain("outbox");
    // The task went back to the queue before the reset; its enqueue goes out when the actor starts.
    expect(await readTask(owner, task.id)).toMatchObject({ status: "queued", attempt: 2 });
    const offer = await pollOne(runner.runnerToken);
    expect(offer.taskId).toBe(task.id);
    const lease = await accept(runner.runnerToken, task.id, offer.assignmentId);
    expect(lease.status).toBe(200);
    expect(lease.body.task).toMatchObject({ id: task.id, attempt: 2, status: "running" });
  });

  it("backs off exponentially between failed sends, up to its cap", () => {
    expect([1, 2, 3, 4].map((n) => retryDelay(OUTBOX_RETRY, n))).toEqual([2_000, 4_000, 8_000, 16_000]);
    expect(retryDelay(OUTBOX_RETRY, 30)).toBe(OUTBOX_RETRY.capMs);
  });
});
