// A few IngestActor shards take webhook deliveries: a shard records each delivery once (its
// re-delivery check) with the tasks it made, answers as soon as that is durable, and hands the tasks
// to their dispatchers and project indexes in batches afterwards. A task's own TaskActor takes the
// record over the first time anyone touches it, so a delivery costs one actor round trip and no
// task-actor commit until somebody reads or runs the task.
import { DurableObject } from "cloudflare:workers";
import { dispatcherStub, orgStub, projectStub, type Env } from "./env.ts";
import { needsOrgLock, taskSummary, WEBHOOK_DELIVERY_MEMORY_SECONDS, type Task } from "../protocol/index.ts";
import { migrate, nowIso } from "./sql.ts";
import { queueEntry, type NewTask } from "../common/messages.ts";
import { SingleFlight } from "./single-flight.ts";
import { bornTask } from "./task-state.ts";
import { Timers, TIMERS_TABLE } from "./timers.ts";

export const INGEST_MIGRATIONS = [
  [
    `CREATE TABLE sfp_deliveries (source_id TEXT NOT NULL, delivery_id TEXT NOT NULL, task_ids TEXT NOT NULL,
       received_at INTEGER NOT NULL, PRIMARY KEY (source_id, delivery_id))`,
    "CREATE INDEX sfp_deliveries_age ON sfp_deliveries (received_at)",
    // A task waits here until it is handed to its dispatcher and index (handed) and its own actor
    // has taken it over (materialized); then the row goes.
    `CREATE TABLE sfp_tasks (seq INTEGER PRIMARY KEY AUTOINCREMENT, task_id TEXT NOT NULL UNIQUE, body TEXT NOT NULL,
       handed INTEGER NOT NULL DEFAULT 0, materialized INTEGER NOT NULL DEFAULT 0)`,
    "CREATE INDEX sfp_tasks_unhanded ON sfp_tasks (handed, seq)",
    TIMERS_TABLE,
  ],
  // issue 11: a GitHub body seen once, by the delivery id it first came with (ingest, `bodyDigest`).
  [
    `CREATE TABLE sfp_bodies (source_id TEXT NOT NULL, digest TEXT NOT NULL, delivery_id TEXT NOT NULL, task_ids TEXT NOT NULL,
       received_at INTEGER NOT NULL, PRIMARY KEY (source_id, digest))`,
    "CREATE INDEX sfp_bodies_age ON sfp_bodies (received_at)",
  ],
  // issue 17: the shard asks the org's lock for its tasks in batches (OrgActor.requestMany).
  ["ALTER TABLE sfp_tasks ADD COLUMN lock_asked INTEGER NOT NULL DEFAULT 0"],
  // Hand-off without rewriting task rows (B1's profile: updating ~2 KB rows cost more than inserting
  // them). Batches are handed in seq order, so "handed" is a watermark: every seq up to `through`.
  // A task's place in its org's line lives in its own small row (present: the lock was asked).
  [
    "CREATE TABLE sfp_handoff (id INTEGER PRIMARY KEY CHECK (id = 1), through INTEGER NOT NULL)",
    `INSERT INTO sfp_handoff (id, through) VALUES (1, COALESCE((SELECT MIN(seq) - 1 FROM sfp_tasks WHERE handed = 0),
       (SELECT MAX(seq) FROM sfp_tasks), 0))`,
    "DROP INDEX sfp_tasks_unhanded",
    "CREATE TABLE sfp_places (task_id TEXT PRIMARY KEY, waiting_for TEXT)",
    "INSERT INTO sfp_places (task_id) SELECT task_id FROM sfp_tasks WHERE lock_asked = 1",
  ],
] as const;

/** A task as the shard holds it, for its TaskActor to take over. */
export interface HeldTask {
  /** The task's JSON, with `waitingFor` once its org's line answered. */
  body: string;
  /** The shard asked the org's lock for the task already: its actor must not ask again. */
  lockAsked: boolean;
}

export interface IngestItem {
  sourceId: string;
  deliveryId: string;
  tasks: NewTask[];
  /**
   * GitHub: the body's SHA-256 (hex). GitHub signs the body but not the delivery id, so the same body
   * under another delivery id is a replay, answered with the first delivery's tasks. The edge sends
   * such a delivery to the shard of its body, so every copy of it meets the first here.
   */
  bodyDigest?: string;
}

export interface IngestAnswer {
  duplicate: boolean;
  taskIds: string[];
}

/** How long a delivery id is remembered: GitHub and Salesforce re-send for up to a day. */
const DELIVERY_MEMORY_MS = WEBHOOK_DELIVERY_MEMORY_SECONDS * 1000;
const HANDOFF_BATCH = 500;
/**
 * At most one hand-off per interval per shard: a lone delivery after a quiet spell is handed at once,
 * and under load a hand-off carries whatever arrived since the last one. Each hand-off costs an RPC
 * and a commit at the project, the dispatcher and the org; per delivery that cost falls as batches
 * grow (round one: a fixed 20 ms gather cost 708 µs a delivery, 100 ms 494 µs). The price is up to
 * this much between a delivery's answer and its task reaching the queue, under load only.
 */
const HANDOFF_INTERVAL_MS = 200;
const HANDOFF_RETRY_MS = 2_000;
const HANDOFF_SAFETY_MS = 10_000;
const PRUNE_EVERY_MS = 3600 * 1000;

export class IngestActor extends DurableObject<Env> {
  private readonly timers: Timers;
  private readonly handing = new SingleFlight(() => this.handBatches());
  private handOffTimer: ReturnType<typeof setTimeout> | null = null;
  /** When the last hand-off began (ms; 0: none in this actor's life). */
  private lastHandOff = 0;
  /** The last hand-off failed: its retry alarm is set. */
  private failed = false;

  constructor(ctx: DurableObjectState, env: Env) {
    super(ctx, env);
    this.timers = new Timers(ctx.storage);
    ctx.blockConcurrencyWhile(async () => migrate(ctx.storage.sql, INGEST_MIGRATIONS));
  }

  /**
   * Records a batch of deliveries and the tasks they made, in one commit (the runtime holds the
   * answer until it is durable). A delivery id seen before — in an earlier batch or earlier in this
   * one — answers the task ids it made the first time; so does a GitHub body seen before under
   * another delivery id (a replay). A body is claimed in the same commit as its delivery's record.
   */
  async ingest(items: IngestItem[]): Promise<IngestAnswer[]> {
    const sql = this.ctx.storage.sql;
    const now = Date.now();
    const at = nowIso(now);
    const answers = items.map((item) => {
      const replayOf = item.bodyDigest === undefined ? null : this.bodyClaim(item.sourceId, item.bodyDigest);
      if (replayOf && replayOf.delivery_id !== item.deliveryId) return { duplicate: true, taskIds: JSON.parse(replayOf.task_ids) as string[] };
      const seen = sql
        .exec<{ task_ids: string }>("SELECT task_ids FROM sfp_deliveries WHERE source_id = ? AND delivery_id = ?", item.sourceId, item.deliveryId)
        .toArray()[0];
      if (seen) return { duplicate: true, taskIds: JSON.parse(seen.task_ids) as string[] };
      const taskIds = item.tasks.map((t) => t.id);
      const ids = JSON.stringify(taskIds);
      sql.exec("INSERT INTO sfp_deliveries (source_id, delivery_id, task_ids, received_at) VALUES (?, ?, ?, ?)", item.sourceId, item.deliveryId, ids, now);
      if (item.bodyDigest !== undefined && !replayOf)
        sql.exec(
          "INSERT INTO sfp_bodies (source_id, digest, delivery_id, task_ids, received_at) VALUES (?, ?, ?, ?, ?)",
          item.sourceId,
          item.bodyDigest,
          item.deliveryId,
          ids,
          now,
        );
      for (const input of item.tasks) sql.exec("INSERT OR IGNORE INTO sfp_tasks (task_id, body) VALUES (?, ?)", input.id, JSON.stringify(bornTask(input, at)));
      return { duplicate: false, taskIds };
    });
    // The alarm backs the in-memory hand-off timer up, should the shard be evicted before it fires.
    let arm = false;
    for (const [name, due] of [
      ["handoff", now + HANDOFF_SAFETY_MS],
      ["prune", now + PRUNE_EVERY_MS],
    ] as const) {
      if (this.timers.get(name) !== null) continue;
      this.timers.set(name, due);
      arm = true;
    }
    if (arm) await this.timers.arm();
    this.scheduleHandOff();
    return answers;
  }

  /** The delivery a GitHub body first came with, and its tasks; undefined for a body not seen in 72 h. */
  private bodyClaim(sourceId: string, digest: string): { delivery_id: string; task_ids: string } | undefined {
    return this.ctx.storage.sql
      .exec<{ delivery_id: string; task_ids: string }>("SELECT delivery_id, task_ids FROM sfp_bodies WHERE source_id = ? AND digest = ?", sourceId, digest)
      .toArray()[0];
  }

  /** A task's record as stored (JSON), for its TaskActor to materialize from; null once it has (or never existed). */
  async peek(taskId: string): Promise<HeldTask | null> {
    const row = this.ctx.storage.sql
      .exec<{ body: string; materialized: number; asked: number; waiting_for: string | null }>(
        `SELECT t.body, t.materialized, p.task_id IS NOT NULL AS asked, p.waiting_for
         FROM sfp_tasks t LEFT JOIN sfp_places p ON p.task_id = t.task_id WHERE t.task_id = ?`,
        taskId,
      )
      .toArray()[0];
    if (!row || row.materialized) return null;
    const body = row.waiting_for === null ? row.body : JSON.stringify({ ...JSON.parse(row.body), waitingFor: JSON.parse(row.waiting_for) });
    return { body, lockAsked: row.asked === 1 };
  }

  /** The TaskActor now holds the task: forget it once the hand-off is done too. */
  async materialized(taskId: string): Promise<void> {
    const sql = this.ctx.storage.sql;
    sql.exec("UPDATE sfp_tasks SET materialized = 1 WHERE task_id = ?", taskId);
    sql.exec("DELETE FROM sfp_tasks WHERE task_id = ? AND seq <= ?", taskId, this.handedThrough());
    sql.exec("DELETE FROM sfp_places WHERE task_id = ?", taskId);
  }

  /** Every task up to this seq has been handed off (they go in seq order). */
  private handedThrough(): number {
    return this.ctx.storage.sql.exec<{ through: number }>("SELECT through FROM sfp_handoff WHERE id = 1").one().through;
  }

  // ---- hand-off to dispatchers and project indexes ---------------------------------------------

  /**
   * Hands tasks off a moment after the first of them arrives, so a burst goes to each dispatcher and
   * index in one call and one commit instead of one per delivery.
   */
  private scheduleHandOff(): void {
    if (this.handOffTimer || this.handing.busy) return;
    const wait = Math.max(0, this.lastHandOff + HANDOFF_INTERVAL_MS - Date.now());
    this.handOffTimer = setTimeout(() => {
      this.handOffTimer = null;
      void this.handOff();
    }, wait);
  }

  /** One hand-off; deliveries that arrived meanwhile go in the next, an interval after this one began. */
  private async handOff(): Promise<void> {
    await this.handing.run();
    // A failed hand-off waits for its retry alarm instead.
    if (this.failed) return;
    const more = this.ctx.storage.sql.exec("SELECT 1 FROM sfp_tasks WHERE seq > ? LIMIT 1", this.handedThrough()).toArray().length > 0;
    if (more) this.scheduleHandOff();
    else {
      this.timers.clear("handoff");
      await this.timers.arm();
    }
  }

  private async handBatches(): Promise<void> {
    const sql = this.ctx.storage.sql;
    this.lastHandOff = Date.now();
    this.failed = false;
    for (;;) {
      const rows = sql
        .exec<{ seq: number; body: string }>("SELECT seq, body FROM sfp_tasks WHERE seq > ? ORDER BY seq LIMIT ?", this.handedThrough(), HANDOFF_BATCH)
        .toArray();
      if (!rows.length) return;
      const tasks = rows.map((r) => JSON.parse(r.body) as Task);
      let placed: Task[];
      try {
        // The org lines first, so the index learns where each waiting task stands.
        placed = await this.toOrgLines(tasks);
        await Promise.all([...this.toDispatchers(tasks), ...this.toProjects(tasks)]);
      } catch (err) {
        console.log(JSON.stringify({ level: "warn", msg: "ingest hand-off failed; retrying", shard: this.ctx.id.name, error: String(err) }));
        this.failed = true;
        this.timers.set("handoff", Date.now() + HANDOFF_RETRY_MS);
        await this.timers.arm();
        return;
      }
      const [first, last] = [rows[0].seq, rows[rows.length - 1].seq];
      if (placed.length) {
        // One statement for the batch: each task's place (null: the line took it at once), unless its
        // actor took it over meanwhile.
        const places = Object.fromEntries(placed.map((t) => [t.id, t.waitingFor ?? null]));
        sql.exec(
          `INSERT INTO sfp_places (task_id, waiting_for) SELECT j.key, j.value FROM json_each(?) AS j
           JOIN sfp_tasks t ON t.task_id = j.key WHERE t.materialized = 0
           ON CONFLICT(task_id) DO UPDATE SET waiting_for = excluded.waiting_for`,
          JSON.stringify(places),
        );
      }
      sql.exec("UPDATE sfp_handoff SET through = ? WHERE id = 1", last);
      sql.exec("DELETE FROM sfp_tasks WHERE seq BETWEEN ? AND ? AND materialized = 1", first, last);
      if (rows.length < HANDOFF_BATCH) return;
    }
  }

  /**
   * A task that changes its org waits for the org's lock first (issue 13): one request per org for the
   * batch. A task that must wait gets its place written into `tasks` (in place) and is returned with
   * the others the line took, for the shard to record; a granted task's own actor hears it and queues it.
   */
  private async toOrgLines(tasks: Task[]): Promise<Task[]> {
    const byOrg = groupBy(
      tasks.filter((t) => needsOrgLock(t.type)),
      (t) => `${t.project}/${t.org}`,
      (t) => t,
    );
    const asked = await Promise.all(
      [...byOrg.values()].map(async (group) => {
        const { project, org } = group[0];
        const reqs = group.map((t) => ({ project, org, taskId: t.id, priority: t.priority, createdAt: t.createdAt, approved: false }));
        const places = await orgStub(this.env, project, org).requestMany(project, org, reqs);
        for (const task of group) {
          const place = places[task.id];
          if (place) task.waitingFor = { org, ...place };
        }
        return group;
      }),
    );
    return asked.flat();
  }

  private toDispatchers(tasks: Task[]): Promise<unknown>[] {
    const byPool = groupBy(
      tasks.filter((t) => !needsOrgLock(t.type)),
      (t) => `${t.project}/${t.pool}`,
      queueEntry,
    );
    return [...byPool.values()].map((entries) => dispatcherStub(this.env, entries[0].project, entries[0].pool).enqueueMany(entries));
  }

  private toProjects(tasks: Task[]): Promise<void>[] {
    // The index keeps summaries only: a batch of 500 tasks need not carry their payloads there.
    const byProject = groupBy(tasks, (t) => t.project, taskSummary);
    return [...byProject.entries()].map(([project, list]) => projectStub(this.env, project).tasksChanged(list));
  }

  override async alarm(): Promise<void> {
    const now = Date.now();
    for (const name of this.timers.takeDue(now)) {
      if (name === "handoff") await this.handOff();
      if (name === "prune") {
        this.ctx.storage.sql.exec("DELETE FROM sfp_deliveries WHERE received_at < ?", now - DELIVERY_MEMORY_MS);
        this.ctx.storage.sql.exec("DELETE FROM sfp_bodies WHERE received_at < ?", now - DELIVERY_MEMORY_MS);
        this.timers.set("prune", now + PRUNE_EVERY_MS);
      }
    }
    await this.timers.arm();
  }
}

function groupBy<T, V>(items: T[], key: (item: T) => string, value: (item: T) => V): Map<string, V[]> {
  const groups = new Map<string, V[]>();
  for (const item of items) {
    const k = key(item);
    const group = groups.get(k);
    if (group) group.push(value(item));
    else groups.set(k, [value(item)]);
  }
  return groups;
}
