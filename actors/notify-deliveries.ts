// The durable queue of Standard Webhooks deliveries (issue 14): one row per (endpoint, event), whose
// id is the `webhook-id` of every attempt. An attempt is booked — tries + 1 and the next retry time —
// before it is sent, so an actor reset mid-send retries the same id at the next backoff, never a new one.
import { rpcError } from "../protocol/index.ts";
import type { NotificationDelivery } from "../protocol/notify.ts";
import { nowIso } from "./sql.ts";

/** The waits after the 1st, 2nd, … failed attempt: 5 s, 5 min, 30 min, 2 h, 5 h, 10 h, 14 h (≈ 31.6 h in all). */
export const DELIVERY_SCHEDULE_MS = [5_000, 5 * 60_000, 30 * 60_000, 2 * 3600_000, 5 * 3600_000, 10 * 3600_000, 14 * 3600_000] as const;
/** One first attempt and one after each wait of the schedule. */
export const MAX_TRIES = DELIVERY_SCHEDULE_MS.length + 1;
/** A send gets no answer in this long: a failed attempt. */
export const ATTEMPT_TIMEOUT_MS = 15_000;
/** Finished deliveries kept per endpoint for the log. */
const KEEP_PER_ENDPOINT = 200;

/** The wait after `tries` failed attempts, ±10 % jitter so endpoints recovering together are not hit together. */
export function retryWait(tries: number, random = Math.random()): number {
  const base = DELIVERY_SCHEDULE_MS[Math.min(tries, DELIVERY_SCHEDULE_MS.length) - 1] ?? DELIVERY_SCHEDULE_MS[0];
  return Math.round(base * (0.9 + 0.2 * random));
}

export type DeliveryRow = {
  id: string;
  endpoint: string;
  event: string;
  task_id: string | null;
  body: string;
  status: "pending" | "succeeded" | "failed";
  attempts: number;
  tries: number;
  last_code: number | null;
  last_at: number | null;
  next_at: number | null;
  created_at: number;
};

export class NotifyDeliveries {
  private readonly sql: SqlStorage;

  constructor(sql: SqlStorage) {
    this.sql = sql;
  }

  /** Queues a delivery, due now; the same dedupe key again is a no-op (a repeated status change). */
  add(id: string, endpoint: string, event: string, taskId: string | null, body: string, dedupe: string, now: number): boolean {
    const written = this.sql.exec(
      `INSERT INTO sfp_notify_deliveries (id, endpoint, event, task_id, body, status, next_at, created_at, dedupe)
       VALUES (?, ?, ?, ?, ?, 'pending', ?, ?, ?) ON CONFLICT(dedupe) DO NOTHING`,
      id,
      endpoint,
      event,
      taskId,
      body,
      now,
      now,
      dedupe,
    ).rowsWritten;
    this.prune(endpoint);
    return written > 0;
  }

  due(now: number, limit: number): DeliveryRow[] {
    return this.sql
      .exec<DeliveryRow>("SELECT * FROM sfp_notify_deliveries WHERE status = 'pending' AND next_at <= ? ORDER BY next_at LIMIT ?", now, limit)
      .toArray();
  }

  /** The earliest retry time of a pending delivery, or null. */
  nextDue(): number | null {
    return this.sql.exec<{ at: number | null }>("SELECT MIN(next_at) AS at FROM sfp_notify_deliveries WHERE status = 'pending'").one().at;
  }

  /** Books an attempt before it is sent: what happens should the actor die mid-send. */
  book(row: DeliveryRow, now: number): DeliveryRow {
    const tries = row.tries + 1;
    const nextAt = now + (tries < MAX_TRIES ? retryWait(tries) : ATTEMPT_TIMEOUT_MS * 4);
    this.sql.exec("UPDATE sfp_notify_deliveries SET attempts = attempts + 1, tries = ?, last_at = ?, next_at = ? WHERE id = ?", tries, now, nextAt, row.id);
    return { ...row, tries, attempts: row.attempts + 1, last_at: now, next_at: nextAt };
  }

  /** The answer of a booked attempt: its code, and whether the delivery is done (succeeded or given up). */
  answered(id: string, code: number | null, outcome: "succeeded" | "failed" | "retry"): void {
    if (outcome === "retry") this.sql.exec("UPDATE sfp_notify_deliveries SET last_code = ? WHERE id = ?", code, id);
    else this.sql.exec("UPDATE sfp_notify_deliveries SET last_code = ?, status = ?, next_at = NULL WHERE id = ?", code, outcome, id);
  }

  /** Stops every pending delivery of a disabled endpoint. */
  failPending(endpoint: string): void {
    this.sql.exec("UPDATE sfp_notify_deliveries SET status = 'failed', next_at = NULL WHERE endpoint = ? AND status = 'pending'", endpoint);
  }

  list(endpoint: string, limit: number): NotificationDelivery[] {
    return this.sql
      .exec<DeliveryRow>("SELECT * FROM sfp_notify_deliveries WHERE endpoint = ? ORDER BY created_at DESC, id DESC LIMIT ?", endpoint, limit)
      .toArray()
      .map(deliveryFromRow);
  }

  /** Sends the delivery again from the start of the schedule, with the same id (and so the same webhook-id). */
  redeliver(endpoint: string, id: string, now: number): NotificationDelivery {
    const row = this.sql.exec<DeliveryRow>("SELECT * FROM sfp_notify_deliveries WHERE id = ? AND endpoint = ?", id, endpoint).toArray()[0];
    if (!row) throw rpcError("not_found", "no such delivery");
    this.sql.exec("UPDATE sfp_notify_deliveries SET status = 'pending', tries = 0, next_at = ? WHERE id = ?", now, id);
    return deliveryFromRow({ ...row, status: "pending", tries: 0, next_at: now });
  }

  private prune(endpoint: string): void {
    this.sql.exec(
      `DELETE FROM sfp_notify_deliveries WHERE endpoint = ? AND status != 'pending' AND id NOT IN
       (SELECT id FROM sfp_notify_deliveries WHERE endpoint = ? ORDER BY created_at DESC LIMIT ?)`,
      endpoint,
      endpoint,
      KEEP_PER_ENDPOINT,
    );
  }
}

function deliveryFromRow(r: DeliveryRow): NotificationDelivery {
  return {
    id: r.id,
    event: r.event,
    taskId: r.task_id,
    status: r.status,
    attempts: r.attempts,
    lastResponseCode: r.last_code,
    lastAttemptAt: r.last_at === null ? null : nowIso(r.last_at),
    nextAttemptAt: r.status === "pending" && r.next_at !== null ? nowIso(r.next_at) : null,
    createdAt: nowIso(r.created_at),
  };
}
