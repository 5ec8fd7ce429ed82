// The queue grouped by label set (actors/dispatch-queue.ts): a poll reads only what the runner could
// take, whatever waits that it cannot; matching tasks keep their priority/FIFO order; and the
// distinct label sets nobody serves are bounded (issue 11, "label queue scans").
import { runInDurableObject } from "cloudflare:test";
import { describe, expect, it, vi } from "vitest";
import type { DispatcherActor } from "../../actors/dispatcher-actor.ts";
import { MAX_LABEL_SETS } from "../../actors/dispatch-queue.ts";
import { MIGRATIONS } from "../../actors/dispatch-schema.ts";
import { migrate } from "../../actors/sql.ts";
import type { QueueEntry } from "../../common/messages.ts";
import type { Assignment } from "../../protocol/index.ts";
import { api, createTask, setup } from "./helpers.ts";
import { dispatcher, poll, readTask, register } from "./runner-helpers.ts";

const ids = (assignments: Assignment[]) => assignments.map((a) => a.taskId);

/** Queue entries for tasks that exist only in the dispatcher (never offered, their TTL far off). */
function entries(project: string, prefix: string, n: number, fields: Partial<QueueEntry> = {}): QueueEntry[] {
  return Array.from({ length: n }, (_, i) => ({
    taskId: `tsk_${prefix}${String(i).padStart(6, "0")}`,
    project,
    pool: "default",
    priority: "critical",
    labels: [],
    createdAt: new Date(Date.UTC(2030, 0, 1, 0, 0, 0, i)).toISOString(),
    attempt: 1,
    ...fields,
  }));
}

/** Registers a runner straight at the pool's dispatcher; answers its id. */
async function runnerAt(project: string, labels: string[], slots = 8): Promise<string> {
  const id = `rnr_${crypto.randomUUID().replace(/-/g, "")}`;
  await dispatcher(project).registerRunner(project, "default", { id, name: id, labels, slots, ephemeral: false, version: "test" });
  return id;
}

/** A poll of the runner (no waiting), and every SQL row the dispatcher read to answer it. */
async function measuredPoll(project: string, runnerId: string, freeSlots: number): Promise<{ offers: Assignment[]; rowsRead: number }> {
  return runInDurableObject(dispatcher(project), async (instance: DispatcherActor, state) => {
    const sql = state.storage.sql;
    const original = sql.exec;
    const exec = original.bind(sql);
    const cursors: { rowsRead: number }[] = [];
    sql.exec = <T extends Record<string, SqlStorageValue>>(query: string, ...bindings: unknown[]) => {
      const cursor = exec<T>(query, ...bindings);
      cursors.push(cursor);
      return cursor;
    };
    try {
      const offers = await instance.poll(runnerId, freeSlots, 0);
      return { offers, rowsRead: cursors.reduce((n, c) => n + c.rowsRead, 0) };
    } finally {
      sql.exec = original;
    }
  });
}

describe("a poll with many queued tasks the runner cannot take", () => {
  it("reads the same few rows whether 10 or 3,000 critical tasks with a label no runner has wait", async () => {
    const reads: number[] = [];
    for (const n of [10, 3_000]) {
      const { project } = await setup();
      const runner = await runnerAt(project, ["linux"]);
      await dispatcher(project).enqueueMany(entries(project, "gpu", n, { labels: ["gpu"] }));
      const { offers, rowsRead } = await measuredPoll(project, runner, 4);
      expect(offers).toEqual([]);
      reads.push(rowsRead);
    }
    expect(reads[1]).toBe(reads[0]);
    expect(reads[1]).toBeLessThan(20);
  });

  it("reads only the offered tasks' rows, not the unmatched backlog, when some tasks do match", async () => {
    const { project } = await setup();
    const runner = await runnerAt(project, ["linux"]);
    const stub = dispatcher(project);
    await stub.enqueueMany(entries(project, "gpu", 3_000, { labels: ["gpu"] }));
    await stub.enqueueMany(entries(project, "lin", 50, { labels: ["linux"], priority: "batch" }));
    const { offers, rowsRead } = await measuredPoll(project, runner, 2);
    expect(ids(offers)).toEqual(["tsk_lin000000", "tsk_lin000001"]);
    // The runner, its pending offers and leases, the label sets, two queue heads, and the two offers' writes.
    expect(rowsRead).toBeLessThan(40);
  });
});

describe("the order of what a runner can take", () => {
  it("offers critical before normal before batch, oldest first, across every label set the runner has", async () => {
    const { project } = await setup();
    const runner = await runnerAt(project, ["big", "linux"]);
    const at = (ms: number) => new Date(Date.UTC(2030, 0, 1, 0, 0, 0, ms)).toISOString();
    const one = (taskId: string, priority: QueueEntry["priority"], labels: string[], ms: number): QueueEntry => ({
      taskId,
      project,
      pool: "default",
      priority,
      labels,
      createdAt: at(ms),
      attempt: 1,
    });
    await dispatcher(project).enqueueMany([
      one("tsk_b_plain", "batch", [], 1),
      one("tsk_n_linux_late", "normal", ["linux"], 9),
      one("tsk_c_gpu", "critical", ["gpu"], 0),
      one("tsk_n_big", "normal", ["linux", "big"], 5),
      one("tsk_c_plain", "critical", [], 7),
      one("tsk_n_linux", "normal", ["linux"], 2),
      one("tsk_c_big_gpu", "critical", ["big", "gpu"], 1),
      one("tsk_c_big", "critical", ["big"], 8),
      one("tsk_b_big", "batch", ["big", "linux"], 0),
    ]);
    const first = await measuredPoll(project, runner, 3);
    expect(ids(first.offers)).toEqual(["tsk_c_plain", "tsk_c_big", "tsk_n_linux"]);
    const rest = await measuredPoll(project, runner, 8);
    expect(ids(rest.offers)).toEqual(["tsk_n_big", "tsk_n_linux_late", "tsk_b_big", "tsk_b_plain"]);
    expect(await dispatcher(project).queued()).toContain("tsk_c_gpu");
  });

  it("keeps the order over HTTP with labeled tasks, as the API creates them", async () => {
    const { project, owner } = await setup();
    const runner = await register(project, owner, { labels: ["linux", "eu"], slots: 4 });
    // query: a type that takes no org lock, so all four wait in the queue at once.
    const batch = await createTask(project, owner, { type: "query", priority: "batch", labels: ["linux"] });
    await createTask(project, owner, { type: "query", priority: "critical", labels: ["gpu"] });
    const normal = await createTask(project, owner, { type: "query", labels: ["eu", "linux"] });
    const critical = await createTask(project, owner, { type: "query", priority: "critical" });
    const res = await poll(runner.runnerToken, { freeSlots: 4 });
    expect(ids(res.body.assignments)).toEqual([critical.id, normal.id, batch.id]);
  });
});

describe("the bound on label sets no runner serves", () => {
  it(`fails at once with no_runner a task whose new label set no runner ever had, once ${MAX_LABEL_SETS} sets wait`, async () => {
    const { project, owner } = await setup();
    await register(project, owner, { labels: ["linux"] });
    const stub = dispatcher(project);
    // MAX_LABEL_SETS distinct label sets, all waiting (their own TTL is an hour off).
    for (let i = 0; i < MAX_LABEL_SETS; i++) await stub.enqueueMany(entries(project, `set${i}_`, 2, { labels: [`nobody-${i}`] }));
    const refused = await createTask(project, owner, { labels: ["gpu"] });
    await vi.waitFor(async () => expect((await readTask(owner, refused.id)).status).toBe("failed"), { timeout: 15_000, interval: 100 });
    const read = await readTask(owner, refused.id);
    expect(read.error?.code).toBe("no_runner");
    expect(read.error?.message).toContain(`${MAX_LABEL_SETS} label sets`);
    expect(await stub.queued()).not.toContain(refused.id);
  });

  it("still lets in, at the bound, a task of a waiting set and one whose labels a gone ephemeral runner had", async () => {
    const { project, owner } = await setup();
    const eph = await register(project, owner, { name: "eph", labels: ["gpu", "linux"], ephemeral: true });
    expect((await api("DELETE", "/v1/runners/self", { token: eph.runnerToken })).status).toBe(204);
    const stub = dispatcher(project);
    for (let i = 0; i < MAX_LABEL_SETS; i++) await stub.enqueueMany(entries(project, `set${i}_`, 1, { labels: [`nobody-${i}`] }));
    const sameSet = await createTask(project, owner, { type: "query", labels: ["nobody-3"] });
    const known = await createTask(project, owner, { type: "query", labels: ["gpu"] });
    await vi.waitFor(async () => expect(await stub.queued()).toEqual(expect.arrayContaining([sameSet.id, known.id])));
    // Their queue TTL is the configured one, not "now": nothing fails them early.
    const due = await runInDurableObject(stub, (_instance, state) =>
      state.storage.sql
        .exec<{ name: string; at: number }>("SELECT name, at FROM sfp_timers WHERE name IN (?, ?)", `ttl:${sameSet.id}`, `ttl:${known.id}`)
        .toArray(),
    );
    expect(due).toHaveLength(2);
    for (const timer of due) expect(timer.at).toBeGreaterThan(Date.now() + 60_000);
    expect((await readTask(owner, sameSet.id)).status).toBe("queued");
    expect((await readTask(owner, known.id)).status).toBe("queued");
  });

  it("forgets a label set when its last task leaves, so the bound counts only what waits", async () => {
    const { project, owner } = await setup();
    const runner = await register(project, owner, { labels: ["linux"], slots: 2 });
    const task = await createTask(project, owner, { labels: ["linux"] });
    const sets = () =>
      runInDurableObject(dispatcher(project), (_instance, state) =>
        state.storage.sql
          .exec<{ labels: string }>("SELECT labels FROM sfp_label_sets")
          .toArray()
          .map((r) => r.labels),
      );
    await vi.waitFor(async () => expect(await sets()).toEqual(['["linux"]']));
    const offer = (await poll(runner.runnerToken)).body.assignments[0];
    expect(offer.taskId).toBe(task.id);
    expect((await api("POST", `/v1/jobs/${task.id}/accept`, { token: runner.runnerToken, body: { assignmentId: offer.assignmentId } })).status).toBe(200);
    expect(await sets()).toEqual([]);
  });
});

describe("the label-set migration", () => {
  it("groups the tasks a dispatcher queued before it, and offers them in order afterwards", async () => {
    const { project } = await setup();
    const runner = await runnerAt(project, ["linux"]);
    const stub = dispatcher(project);
    // Back to the schema before the label sets, with tasks queued the old way.
    await runInDurableObject(stub, (_instance, state) => {
      const sql = state.storage.sql;
      sql.exec("DROP INDEX sfp_queue_by_set");
      sql.exec("ALTER TABLE sfp_queue DROP COLUMN label_set");
      sql.exec("ALTER TABLE sfp_queue DROP COLUMN early");
      sql.exec("DROP TABLE sfp_label_sets");
      sql.exec("DROP TABLE sfp_runner_label_sets");
      sql.exec("DROP INDEX sfp_timers_by_at");
      sql.exec("DELETE FROM _sfp_migrations WHERE version > 2");
      const old = (taskId: string, rank: number, ms: number, labels: string[]) =>
        sql.exec(
          "INSERT INTO sfp_queue (task_id, rank, created_at, attempt, labels, enqueued_at) VALUES (?, ?, ?, 1, ?, ?)",
          taskId,
          rank,
          new Date(Date.UTC(2030, 0, 1, 0, 0, 0, ms)).toISOString(),
          JSON.stringify(labels),
          Date.now(),
        );
      old("tsk_old_normal", 1, 0, ["linux"]);
      old("tsk_old_gpu", 0, 0, ["gpu"]);
      old("tsk_old_critical", 0, 5, []);
      migrate(sql, MIGRATIONS);
    });
    const { offers } = await measuredPoll(project, runner, 4);
    expect(ids(offers)).toEqual(["tsk_old_critical", "tsk_old_normal"]);
    // The runner registered before the migration counts as having had its labels.
    const known = await runInDurableObject(stub, (_instance, state) => state.storage.sql.exec("SELECT labels FROM sfp_runner_label_sets").toArray());
    expect(known).toEqual([{ labels: '["linux"]' }]);
  });
});
