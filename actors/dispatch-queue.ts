// A pool's queue of runnable tasks (sfp_queue) and the memory of attempts that left it (sfp_left).
// Order is priority, then creation, then id; a task under an offer stays queued but is offered to
// nobody else until the offer ends. Each queued task has a `ttl:<taskId>` timer (the queue TTL).
//
// Tasks are grouped by their label set (sfp_label_sets): an offer tests the runner's labels against
// each distinct set once and reads, through an index, only the first tasks of the sets the runner
// has. Tasks no runner can take are never read by a poll, however many wait. The distinct sets are
// kept few: past MAX_LABEL_SETS, a new set is only let in if a runner of the pool has (or had) all its
// labels; otherwise its task is refused (kept with no set, and failed at once by the queue TTL).
//
// An entry can come before its task exists: the edge sends a new task's entry in parallel with its
// creation (edge/new-task.ts), marked `early` until the task's own outbox repeats it — which it only
// does after the task's birth is durable. An early row is only ever dropped (`drop`), never recorded
// as departed, so an orphan (the creation never came) cannot keep a late creation out of the queue.
import type { QueueEntry } from "../common/messages.ts";
import type { Timers } from "./timers.ts";

/** critical before normal before batch; FIFO inside one. */
export const PRIORITY_RANK = { critical: 0, normal: 1, batch: 2 } as const;

/** An attempt number no requeue reaches: the task left the queue for good (canceled, failed). */
export const FINAL = Number.MAX_SAFE_INTEGER;

/**
 * How many distinct label sets may wait in one pool's queue before a new one that no runner of the
 * pool has ever had is refused. Every poll tests each distinct set once, so this bounds what labels
 * nobody serves can cost a poll.
 */
export const MAX_LABEL_SETS = 64;

/** label_set null: the task was refused at admission (see MAX_LABEL_SETS). */
export type QueueRow = { task_id: string; labels: string; attempt: number; assignment_id: string | null; label_set: number | null; early: number };

/** A queued task as the offer order needs it. */
type Head = { task_id: string; rank: number; created_at: string };

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
   * at-least-once). A later attempt replaces an earlier one and ends its offer. A task with a new
   * label set when MAX_LABEL_SETS are already waiting is let in only if `known(labels)` (a runner of
   * the pool has or had them); else it is refused: kept without a set, its TTL due at once. `early`:
   * from the edge, before its task is known to exist; the outbox's repeat of it confirms the row.
   */
  insert(entry: QueueEntry, now: number, ttlMs: number, known: (labels: string[]) => boolean, early = false): boolean {
    const current = this.sql
      .exec<{ attempt: number; label_set: number | null; early: number }>("SELECT attempt, label_set, early FROM sfp_queue WHERE task_id = ?", entry.taskId)
      .toArray()[0];
    if (current && current.attempt >= entry.attempt) {
      if (!early && current.early && current.attempt === entry.attempt) this.sql.exec("UPDATE sfp_queue SET early = 0 WHERE task_id = ?", entry.taskId);
      return false;
    }
    const labels = [...new Set(entry.labels)].sort();
    const labelSet = current ? current.label_set : this.labelSetFor(labels, known);
    this.sql.exec(
      `INSERT INTO sfp_queue (task_id, rank, created_at, attempt, labels, enqueued_at, label_set, early) VALUES (?, ?, ?, ?, ?, ?, ?, ?)
       ON CONFLICT(task_id) DO UPDATE SET attempt = excluded.attempt, enqueued_at = excluded.enqueued_at, assignment_id = NULL, early = excluded.early`,
      entry.taskId,
      PRIORITY_RANK[entry.priority],
      entry.createdAt,
      entry.attempt,
      JSON.stringify(labels),
      now,
      labelSet,
      early ? 1 : 0,
    );
    this.timers.set(`ttl:${entry.taskId}`, labelSet === null ? now : now + ttlMs);
    return true;
  }

  /** The id of the label set, made if there is room or it is known; null when refused. */
  private labelSetFor(labels: string[], known: (labels: string[]) => boolean): number | null {
    const key = JSON.stringify(labels);
    const existing = this.sql.exec<{ id: number }>("SELECT id FROM sfp_label_sets WHERE labels = ?", key).toArray()[0];
    if (existing) return existing.id;
    const sets = this.sql.exec<{ n: number }>("SELECT COUNT(*) AS n FROM sfp_label_sets").one().n;
    if (sets >= MAX_LABEL_SETS && !known(labels)) return null;
    return this.sql.exec<{ id: number }>("INSERT INTO sfp_label_sets (labels) VALUES (?) RETURNING id", key).one().id;
  }

  row(taskId: string): QueueRow | undefined {
    return this.sql.exec<QueueRow>("SELECT task_id, labels, attempt, assignment_id, label_set, early FROM sfp_queue WHERE task_id = ?", taskId).toArray()[0];
  }

  /** Queued, not refused, and under no offer. */
  waiting(taskId: string): boolean {
    const row = this.row(taskId);
    return Boolean(row && !row.assignment_id && row.label_set !== null);
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
   * Up to `limit` tasks under no offer whose labels are all in `labels`, in offer order. Each
   * distinct label set is tested once; of the sets the runner has, only their first `limit` waiting
   * tasks are read (an index walk), so neither a deep backlog nor tasks it cannot take make a poll a scan.
   */
  takeable(labels: ReadonlySet<string>, limit: number): string[] {
    if (limit <= 0) return [];
    const heads: Head[] = [];
    for (const set of this.sql.exec<{ id: number; labels: string }>("SELECT id, labels FROM sfp_label_sets").toArray()) {
      if (!(JSON.parse(set.labels) as string[]).every((l) => labels.has(l))) continue;
      heads.push(
        ...this.sql
          .exec<Head>(
            "SELECT task_id, rank, created_at FROM sfp_queue WHERE label_set = ? AND assignment_id IS NULL ORDER BY rank, created_at, task_id LIMIT ?",
            set.id,
            limit,
          )
          .toArray(),
      );
    }
    return heads
      .sort(inOfferOrder)
      .slice(0, limit)
      .map((h) => h.task_id);
  }

  /** Puts the task under an offer. */
  hold(taskId: string, assignmentId: string): void {
    this.sql.exec("UPDATE sfp_queue SET assignment_id = ? WHERE task_id = ?", assignmentId, taskId);
  }

  /** Ends the task's offer `assignmentId` (if it is still the one it is under): it can be offered again. */
  unhold(taskId: string, assignmentId: string): void {
    this.sql.exec("UPDATE sfp_queue SET assignment_id = NULL WHERE task_id = ? AND assignment_id = ?", taskId, assignmentId);
  }

  /** Removes the task from the queue, remembering that `attempt` left it; an emptied label set goes. */
  leave(taskId: string, attempt: number, now: number): void {
    this.drop(taskId);
    this.sql.exec(
      `INSERT INTO sfp_left (task_id, attempt, at) VALUES (?, ?, ?)
       ON CONFLICT(task_id) DO UPDATE SET attempt = MAX(attempt, excluded.attempt), at = excluded.at`,
      taskId,
      attempt,
      now,
    );
  }

  /**
   * Removes the task from the queue without remembering a departure: for an early row whose task
   * was never born, so that its creation, should it still come, is queued by its outbox as usual.
   */
  drop(taskId: string): void {
    const set = this.sql.exec<{ label_set: number | null }>("DELETE FROM sfp_queue WHERE task_id = ? RETURNING label_set", taskId).toArray()[0]?.label_set;
    if (set != null) {
      this.sql.exec("DELETE FROM sfp_label_sets WHERE id = ? AND NOT EXISTS (SELECT 1 FROM sfp_queue WHERE label_set = ?)", set, set);
    }
    this.timers.clear(`ttl:${taskId}`);
  }

  /** Forgets departures older than `before`; answers how many are still remembered. */
  pruneDepartures(before: number): number {
    this.sql.exec("DELETE FROM sfp_left WHERE at < ?", before);
    return this.sql.exec<{ n: number }>("SELECT COUNT(*) AS n FROM sfp_left").one().n;
  }
}

/** The queue's order (as `ORDER BY rank, created_at, task_id`: ISO times and ids are ASCII). */
function inOfferOrder(a: Head, b: Head): number {
  if (a.rank !== b.rank) return a.rank - b.rank;
  if (a.created_at !== b.created_at) return a.created_at < b.created_at ? -1 : 1;
  return a.task_id < b.task_id ? -1 : a.task_id > b.task_id ? 1 : 0;
}

/** Why a task fails with `no_runner`: no runner of the pool has its labels, or (`refused`) the queue had no room for its label set. */
export function unrunnable(pool: string, labels: string[], refused: boolean): string {
  const list = labels.join(", ");
  if (!refused) return labels.length ? `no runner of pool "${pool}" has the labels ${list}` : `no runner registered in pool "${pool}"`;
  const full = `pool "${pool}" already has tasks of ${MAX_LABEL_SETS} label sets waiting`;
  return labels.length ? `${full}, and no runner of it has or had the labels ${list}` : `${full}, and no runner has registered in it yet`;
}
