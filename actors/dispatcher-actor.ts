// One DispatcherActor per (project, pool): the queue of runnable tasks.
import { DurableObject } from "cloudflare:workers";
import type { Env } from "../edge/env.ts";
import { migrate } from "./sql.ts";
import type { QueueEntry } from "./task-actor.ts";

const MIGRATIONS = [
  [
    `CREATE TABLE sfp_queue (task_id TEXT PRIMARY KEY, rank INTEGER NOT NULL, created_at TEXT NOT NULL,
       attempt INTEGER NOT NULL, labels TEXT NOT NULL, enqueued_at INTEGER NOT NULL)`,
    "CREATE INDEX sfp_queue_order ON sfp_queue (rank, created_at, task_id)",
  ],
] as const;

/** critical before normal before batch; FIFO inside one. */
export const PRIORITY_RANK = { critical: 0, normal: 1, batch: 2 } as const;

export class DispatcherActor extends DurableObject<Env> {
  constructor(ctx: DurableObjectState, env: Env) {
    super(ctx, env);
    ctx.blockConcurrencyWhile(async () => migrate(ctx.storage.sql, MIGRATIONS));
  }

  /** Idempotent: the TaskActor's outbox may deliver the same entry more than once. */
  async enqueue(entry: QueueEntry): Promise<void> {
    this.ctx.storage.sql.exec(
      `INSERT INTO sfp_queue (task_id, rank, created_at, attempt, labels, enqueued_at) VALUES (?, ?, ?, ?, ?, ?)
       ON CONFLICT(task_id) DO UPDATE SET attempt = excluded.attempt WHERE excluded.attempt > sfp_queue.attempt`,
      entry.taskId,
      PRIORITY_RANK[entry.priority],
      entry.createdAt,
      entry.attempt,
      JSON.stringify(entry.labels),
      Date.now(),
    );
  }

  async remove(taskId: string): Promise<boolean> {
    return this.ctx.storage.sql.exec("DELETE FROM sfp_queue WHERE task_id = ?", taskId).rowsWritten > 0;
  }

  async queued(): Promise<string[]> {
    return this.ctx.storage.sql.exec<{ task_id: string }>("SELECT task_id FROM sfp_queue ORDER BY rank, created_at, task_id").toArray().map((r) => r.task_id);
  }
}
