// Webhook tasks are born in an ingest shard: one actor round trip per delivery, handed to the
// dispatcher and the project index in batches, and taken over by their own TaskActor on first touch.
import { env, evictDurableObject, runInDurableObject } from "cloudflare:test";
import { describe, expect, it, vi } from "vitest";
import { INGEST_MIGRATIONS, type IngestActor } from "../../actors/ingest-actor.ts";
import { migrate } from "../../actors/sql.ts";
import { newTask } from "../../edge/new-task.ts";
import { ingestShardOf } from "../../protocol/ids.ts";
import { webhookTaskId } from "../../common/task-ids.ts";
import { api, ingestSettled, setup } from "./helpers.ts";
import { accept, fireTimers, pollOne, register, timerNames } from "./runner-helpers.ts";
import { deliver, GITHUB_SECRET, githubSignature, putSource } from "./webhooks-helpers.ts";

// run-tests: a type that takes no org lock, so its hand-off goes straight to the dispatcher (a deploy's
// goes through its own actor to the org's lock: test/workers/org-webhooks.test.ts).
const RULES = [{ on: "push", task: { type: "run-tests", org: "demo", payload: { sha: "{{after}}" } } }];

async function push(sourceId: string, delivery = crypto.randomUUID()) {
  const body = JSON.stringify({ ref: "refs/heads/main", after: "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b" });
  const res = await deliver(sourceId, body, {
    "content-type": "application/json",
    "x-github-event": "push",
    "x-github-delivery": delivery,
    "x-hub-signature-256": await githubSignature(body, GITHUB_SECRET),
  });
  expect(res.status).toBe(202);
  return res.json.tasks![0];
}

type Row = { task_id: string; handed: number; materialized: number };
function shardRows(taskId: string): Promise<Row[]> {
  const shard = ingestShardOf(taskId)!;
  const stub = env.INGEST.get(env.INGEST.idFromName(`ingest-${shard}`));
  return runInDurableObject(stub, (_i, state) =>
    state.storage.sql
      .exec<Row>("SELECT task_id, seq <= (SELECT through FROM sfp_handoff) AS handed, materialized FROM sfp_tasks WHERE task_id = ?", taskId)
      .toArray(),
  );
}

function taskActorRows(taskId: string): Promise<number> {
  const stub = env.TASK.get(env.TASK.idFromName(taskId));
  return runInDurableObject(stub, (_i, state) => state.storage.sql.exec<{ n: number }>("SELECT COUNT(*) AS n FROM sfp_task").one().n);
}

describe("ingest shards", () => {
  it("name the shard in the task id and keep the task there until its actor is touched", async () => {
    const { project, owner } = await setup();
    const source = await putSource(project, owner, "gh", { kind: "github", secret: GITHUB_SECRET, rules: RULES });
    const taskId = await push(source.id);
    expect(taskId).toMatch(/^tsk_Z[0-3][0-9A-HJKMNP-TV-Z]{37}$/);
    expect(await shardRows(taskId)).toHaveLength(1);
    // The project index learned of it from the shard's hand-off, without the task's own actor.
    await vi.waitFor(async () => {
      const list = await api("GET", `/v1/projects/${project}/tasks`, { token: owner });
      expect(list.body.tasks.map((t: any) => t.id)).toEqual([taskId]);
    });
    expect((await shardRows(taskId))[0]).toMatchObject({ handed: 1, materialized: 0 });
  });

  it("let the task actor take the record over on first read, with version 1 and the delivery's time", async () => {
    const { project, owner } = await setup();
    const source = await putSource(project, owner, "gh", { kind: "github", secret: GITHUB_SECRET, rules: RULES });
    const before = Date.now();
    const taskId = await push(source.id);
    const res = await api("GET", `/v1/tasks/${taskId}`, { token: owner });
    expect(res.status).toBe(200);
    expect(res.body.task).toMatchObject({ id: taskId, status: "queued", version: 1, payload: { sha: "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b" } });
    expect(Date.parse(res.body.task.createdAt)).toBeGreaterThanOrEqual(before - 1000);
    const events = await api("GET", `/v1/tasks/${taskId}/events`, { token: owner });
    expect(events.body.events).toEqual([expect.objectContaining({ seq: 1, type: "status", status: "queued", at: res.body.task.createdAt })]);
    expect(await taskActorRows(taskId)).toBe(1);
    // Once handed off and taken over, the shard forgets the task (the delivery record stays).
    await vi.waitFor(async () => expect(await shardRows(taskId)).toHaveLength(0));
  });

  it("hand the task to its pool's dispatcher, so a runner's poll gets it and can run it", async () => {
    const { project, owner } = await setup();
    const source = await putSource(project, owner, "gh", { kind: "github", secret: GITHUB_SECRET, rules: RULES });
    const runner = await register(project, owner);
    const taskId = await push(source.id);
    await ingestSettled();
    const offer = await pollOne(runner.runnerToken);
    expect(offer.taskId).toBe(taskId);
    const lease = await accept(runner.runnerToken, taskId, offer.assignmentId);
    expect(lease.status).toBe(200);
    expect(lease.body.task).toMatchObject({ id: taskId, status: "running", version: 2 });
  });

  it("cancel a task no one has touched yet: it leaves the queue and no runner is offered it", async () => {
    const { project, owner } = await setup();
    const source = await putSource(project, owner, "gh", { kind: "github", secret: GITHUB_SECRET, rules: RULES });
    const taskId = await push(source.id);
    const canceled = await api("POST", `/v1/tasks/${taskId}/cancel`, { token: owner });
    expect(canceled.status).toBe(202);
    expect(canceled.body.task.status).toBe("canceled");
    const runner = await register(project, owner);
    const res = await api("POST", "/v1/runners/poll", { token: runner.runnerToken, body: { freeSlots: 1, waitSeconds: 1 } });
    expect(res.status).toBe(204);
  });

  it("hand off through the alarm when the shard is evicted before its in-memory timer fires, losing nothing", async () => {
    const { project, owner } = await setup();
    const source = await putSource(project, owner, "gh", { kind: "github", secret: GITHUB_SECRET, rules: RULES });
    // A delivery recorded by its shard exactly as the webhook route records it…
    const deliveryId = crypto.randomUUID();
    const taskId = await webhookTaskId(env.TOKEN_SIGNING_KEY, source.id, deliveryId, 0);
    const taskSource = { kind: "webhook" as const, sourceId: source.id, deliveryId, event: "push", rule: 0 };
    const task = await newTask(env, taskId, project, { type: "run-tests", org: "demo", payload: { sha: "9f86d081" } }, taskSource);
    const shard = env.INGEST.get(env.INGEST.idFromName(`ingest-${ingestShardOf(taskId)}`));
    // …while the isolate's timers are held: the shard's in-memory hand-off timer cannot fire before
    // the eviction below, so the alarm is the only way left (deterministically, whatever the load).
    vi.useFakeTimers({ toFake: ["setTimeout", "clearTimeout"] });
    try {
      const [answer] = await shard.ingest([{ sourceId: source.id, deliveryId, tasks: [task] }]);
      expect(answer).toEqual({ duplicate: false, taskIds: [taskId] });
      expect(vi.getTimerCount()).toBe(1);
      await evictDurableObject(shard);
    } finally {
      vi.useRealTimers();
    }
    expect((await shardRows(taskId))[0]).toMatchObject({ handed: 0 });
    expect(await timerNames(shard)).toContain("handoff");
    await fireTimers(shard, "handoff");
    expect((await shardRows(taskId))[0]).toMatchObject({ handed: 1 });
    const list = await api("GET", `/v1/projects/${project}/tasks`, { token: owner });
    expect(list.body.tasks.map((t: any) => t.id)).toEqual([taskId]);
    // A second alarm (alarms are at-least-once) hands off nothing twice.
    await fireTimers(shard, "handoff");
    expect((await api("GET", `/v1/projects/${project}/tasks`, { token: owner })).body.tasks).toHaveLength(1);
  });

  it("log each delivery without the source id's tag, so no log line can be replayed as the hook URL", async () => {
    const { project, owner } = await setup();
    const source = await putSource(project, owner, "gh", { kind: "github", secret: GITHUB_SECRET, rules: RULES });
    const lines: string[] = [];
    const spy = vi.spyOn(console, "log").mockImplementation((line: unknown) => void lines.push(String(line)));
    try {
      await push(source.id);
    } finally {
      spy.mockRestore();
    }
    const delivery = lines.map((l) => JSON.parse(l)).find((l) => l.msg === "webhook delivery");
    expect(delivery.source).toBe(`${source.id.slice(0, -13)}…`);
    expect(lines.join("\n")).not.toContain(source.id);
  });

  it("answer 404 for a well-tagged ingest id no delivery made, without creating the task", async () => {
    const { owner } = await setup();
    const id = await webhookTaskId(env.TOKEN_SIGNING_KEY, "whs_none", crypto.randomUUID(), 0);
    const res = await api("GET", `/v1/tasks/${id}`, { token: owner });
    expect(res.status).toBe(404);
    expect(await taskActorRows(id)).toBe(0);
  });
});

describe("the hand-off watermark migration", () => {
  it("counts a shard's rows handed the old way as handed, and keeps the lock asked for", async () => {
    const stub = env.INGEST.get(env.INGEST.idFromName(`ingest-migration-${crypto.randomUUID()}`));
    const after = await runInDurableObject(stub, async (instance: IngestActor, state) => {
      const sql = state.storage.sql;
      // Back to the schema before the watermark, with rows handed (or not) the old way.
      sql.exec("DROP TABLE sfp_handoff");
      sql.exec("DROP TABLE sfp_places");
      sql.exec("CREATE INDEX sfp_tasks_unhanded ON sfp_tasks (handed, seq)");
      sql.exec("DELETE FROM _sfp_migrations WHERE version > 3");
      const row = (id: string, handed: number, lockAsked: number) =>
        sql.exec("INSERT INTO sfp_tasks (task_id, body, handed, lock_asked) VALUES (?, ?, ?, ?)", id, JSON.stringify({ id }), handed, lockAsked);
      row("t-handed", 1, 0);
      row("t-asked", 0, 1);
      row("t-new", 0, 0);
      migrate(sql, INGEST_MIGRATIONS);
      const through = sql.exec<{ through: number }>("SELECT through FROM sfp_handoff").one().through;
      const seqs = sql.exec<{ task_id: string; seq: number }>("SELECT task_id, seq FROM sfp_tasks ORDER BY seq").toArray();
      return { through, seqs, asked: await instance.peek("t-asked"), fresh: await instance.peek("t-new") };
    });
    // Handed: everything before the first row the old way had not handed.
    expect(after.through).toBe(after.seqs.find((r) => r.task_id === "t-handed")?.seq);
    expect(after.asked?.lockAsked).toBe(true);
    expect(after.fresh?.lockAsked).toBe(false);
  });
});
