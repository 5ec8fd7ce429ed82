// A pool's queue of runnable tasks (sfp_queue) and the memory of attempts that left it (sfp_left).
// Order is priority, then creation, then id; a task under an offer stays queued but is offered to
// nobody else until the offer ends. Each queued task has a `ttl:<taskId>` timer (the queue TTL).
import type { QueueEntry } from "../common/messages.ts";
import type { Timers } from "./timers.ts";

/** critical before normal before batch; FIFO inside one. */
export const PRIORITY_RANK = { critical: 0, normal: 1, batch: 2 } as const;

/** An attempt number no requeue reaches: the task left the queue for good (canceled, failed). */
export const FINAL = Number.MAX_SAFE_INTEGER;

export type QueueRow = { task_id: string; labels: string; attempt: number; assignment_id: string | null };

export class DispatchQueue {
  private readonly storage: DurableObjectStorage;
  private readonly timers: Timers;

  constructor(storage: DurableObjectStorage, timers: Timers) {
    this.storage = storage;
    this.timers = timers;
  }

  private get sql(): SqlStorage {
    return this.storage.sql;
  }

  /** Whether this attempt (or a later one) of the task already left the queue. */
  departed(entry: QueueEntry): boolean {
    const left = this.sql.exec<{ attempt: number }>("SELECT attempt FROM sfp_left WHERE task_id = ?", entry.taskId).toArray()[0];
    return Boolean(left && left.attempt >= entry.attempt);
  }

  /**
   * Writes the entry and arms its queue TTL; false when it is a repeat (the TaskActor's outbox is
   * at-least-once). A later attempt replaces an earlier one and ends its offer.
   */
  insert(entry: QueueEntry, now: number, ttlMs: number): boolean {
    const written = this.sql.exec(
      `INSERT INTO sfp_queue (task_id, rank, created_at, attempt, labels, enqueued_at) VALUES (?, ?, ?, ?, ?, ?)
       ON CONFLICT(task_id) DO UPDATE SET attempt = excluded.attempt, enqueued_at = excluded.enqueued_at, assignment_id = NULL
       WHERE excluded.attempt > sfp_queue.attempt`,
      entry.taskId,
      PRIORITY_RANK[entry.priority],
      entry.createdAt,
      entry.attempt,
      JSON.stringify(entry.labels),
      now,
    ).rowsWritten;
    if (!written) return false;
    this.timers.set(`ttl:${entry.taskId}`, now + ttlMs);
    return true;
  }

  row(taskId: string): QueueRow | undefined {
    return this.sql.exec<QueueRow>("SELECT task_id, labels, attempt, assignment_id FROM sfp_queue WHERE task_id = ?", taskId).toArray()[0];
  }

  /** Queued and under no offer. */
  waiting(taskId: string): boolean {
    const row = this.row(taskId);
    return Boolean(row && !row.assignment_id);
  }

  /** The queued task ids in offer order. */
  ids(): string[] {
    return this.sql
      .exec<{ task_id: string }>("SELECT task_id FROM sfp_queue ORDER BY rank, created_at, task_id")
      .toArray()
      .map((r) => r.task_id);
  }

  /** How many queued tasks are under no offer. */
  countWaiting(): number {
    return this.sql.exec<{ n: number }>("SELECT COUNT(*) AS n FROM sfp_queue WHERE assignment_id IS NULL").one().n;
  }

  /**
   * Up to `limit` tasks under no offer whose labels are all in `labels`, in offer order. It walks the
   * queue only as far as needed: a deep backlog must not make every poll a scan.
   */
  takeable(labels: ReadonlySet<string>, limit: number): string[] {
    const chosen: string[] = [];
    if (limit <= 0) return chosen;
    for (const row of this.sql.exec<{ task_id: string; labels: string }>(
      "SELECT task_id, labels FROM sfp_queue WHERE assignment_id IS NULL ORDER BY rank, created_at, task_id",
    )) {
      if ((JSON.parse(row.labels) as string[]).every((l) => labels.has(l))) chosen.push(row.task_id);
      if (chosen.length >= limit) break;
    }
    return chosen;
  }

  /** Puts the task under an offer. */
  hold(taskId: string, assignmentId: string): void {
    this.sql.exec("UPDATE sfp_queue SET assignment_id = ? WHERE task_id = ?", assignmentId, taskId);
  }

  /** Ends the task's offer `assignmentId` (if it is still the one it is under): it can be offered again. */
  unhold(taskId: string, assignmentId: string): void {
    this.sql.exec("UPDATE sfp_queue SET assignment_id = NULL WHERE task_id = ? AND assignment_id = ?", taskId, assignmentId);
  }

  /** Removes the task from the queue, remembering that `attempt` left it. */
  leave(taskId: string, attempt: number, now: number): void {
    this.sql.exec("DELETE FROM sfp_queue WHERE task_id = ?", taskId);
    this.sql.exec(
      `INSERT INTO sfp_left (task_id, attempt, at) VALUES (?, ?, ?)
       ON CONFLICT(task_id) DO UPDATE SET attempt = MAX(attempt, excluded.attempt), at = excluded.at`,
      taskId,
      attempt,
      now,
    );
    this.timers.clear(`ttl:${taskId}`);
  }

  /** Forgets departures older than `before`; answers how many are still remembered. */
  pruneDepartures(before: number): number {
    this.sql.exec("DELETE FROM sfp_left WHERE at < ?", before);
    return this.sql.exec<{ n: number }>("SELECT COUNT(*) AS n FROM sfp_left").one().n;
  }
}
