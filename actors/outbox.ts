// A durable outbox for messages one actor owes others. A change and the messages it causes are
// written in one commit, together with the retry timer that guarantees their delivery: should the
// actor be reset before it sends them, the alarm (or its next start, see `resume`) sends them then.
// Delivery is in order, one flight at a time; a failed send waits for the timer, backing off.
import { log } from "../common/log.ts";
import { SingleFlight } from "./single-flight.ts";
import type { Timers } from "./timers.ts";

/** The table of a new actor's outbox; `attempts` counts the failed sends of the row at the head. */
export const OUTBOX_TABLE =
  "CREATE TABLE sfp_outbox (id INTEGER PRIMARY KEY AUTOINCREMENT, kind TEXT NOT NULL, body TEXT NOT NULL, attempts INTEGER NOT NULL DEFAULT 0)";

/** A named retry schedule: the n-th consecutive failure waits firstMs × factor^(n-1), at most capMs. */
export interface RetryPolicy {
  readonly name: string;
  readonly firstMs: number;
  readonly factor: number;
  readonly capMs: number;
}

/** Messages to other actors: 2 s, 4 s, 8 s… up to 5 min between tries while the peer is down. */
export const OUTBOX_RETRY: RetryPolicy = { name: "outbox", firstMs: 2_000, factor: 2, capMs: 5 * 60_000 };

export function retryDelay(policy: RetryPolicy, failures: number): number {
  const exponent = Math.max(0, failures - 1);
  return Math.min(policy.capMs, policy.firstMs * policy.factor ** exponent);
}

/** One message: its kind picks the send function, its body is stored as JSON. */
export type OutboxMessage<Bodies> = { [K in keyof Bodies & string]: { kind: K; body: Bodies[K] } }[keyof Bodies & string];

/** The send function of every kind of message (its answer is ignored); a throw means "not delivered, try again later". */
export type Senders<Bodies> = { [K in keyof Bodies & string]: (body: Bodies[K]) => Promise<unknown> };

export interface OutboxOptions {
  /** The timer's name in the actor's Timers (default "outbox"). */
  timer?: string;
  policy?: RetryPolicy;
  /** Fields for the warning logged when a send fails (which actor, which task). */
  logFields?: () => Record<string, unknown>;
}

type Row = { id: number; kind: string; body: string; attempts: number };

export class Outbox<Bodies> {
  readonly timer: string;
  private readonly sql: SqlStorage;
  private readonly timers: Timers;
  private readonly senders: Senders<Bodies>;
  private readonly policy: RetryPolicy;
  private readonly logFields: () => Record<string, unknown>;
  private readonly flight = new SingleFlight(() => this.deliver());

  constructor(storage: DurableObjectStorage, timers: Timers, senders: Senders<Bodies>, opts: OutboxOptions = {}) {
    this.sql = storage.sql;
    this.timers = timers;
    this.senders = senders;
    this.timer = opts.timer ?? "outbox";
    this.policy = opts.policy ?? OUTBOX_RETRY;
    this.logFields = opts.logFields ?? (() => ({}));
  }

  /**
   * Queues messages inside the caller's synchronous block, so they commit with the change that
   * caused them, and arms the retry timer in that same commit; then starts delivering them.
   */
  add(messages: readonly OutboxMessage<Bodies>[]): void {
    if (!messages.length) return;
    for (const m of messages) this.sql.exec("INSERT INTO sfp_outbox (kind, body) VALUES (?, ?)", m.kind, JSON.stringify(m.body));
    // A retry already scheduled (backing off) stays; the flight below tries at once anyway.
    if (this.timers.get(this.timer) === null) this.timers.set(this.timer, Date.now() + this.policy.firstMs);
    this.armTimers();
    void this.flush();
  }

  get pending(): number {
    return this.sql.exec<{ n: number }>("SELECT COUNT(*) AS n FROM sfp_outbox").one().n;
  }

  /** Delivers what is queued, in order; resolves when the outbox is empty or a send failed. */
  flush(): Promise<void> {
    return this.flight.run();
  }

  /** At the actor's start: sends what an earlier instance committed but never delivered. */
  resume(): void {
    if (this.pending) void this.flush();
  }

  private async deliver(): Promise<void> {
    for (;;) {
      const row = this.sql.exec<Row>("SELECT id, kind, body, attempts FROM sfp_outbox ORDER BY id LIMIT 1").toArray()[0];
      if (!row) {
        this.timers.clear(this.timer);
        await this.timers.arm();
        return;
      }
      try {
        await this.send(row);
      } catch (err) {
        const failures = row.attempts + 1;
        const delay = retryDelay(this.policy, failures);
        this.sql.exec("UPDATE sfp_outbox SET attempts = ? WHERE id = ?", failures, row.id);
        this.timers.set(this.timer, Date.now() + delay);
        await this.timers.arm();
        log("warn", "outbox delivery failed", {
          ...this.logFields(),
          kind: row.kind,
          policy: this.policy.name,
          failures,
          retryInMs: delay,
          error: String(err),
        });
        return;
      }
      this.sql.exec("DELETE FROM sfp_outbox WHERE id = ?", row.id);
    }
  }

  private send(row: Row): Promise<unknown> {
    if (!this.isKind(row.kind)) {
      // Written by a version of the actor that knew this kind; no sender now, so it cannot block the rest.
      log("error", "outbox message of an unknown kind dropped", { ...this.logFields(), kind: row.kind });
      return Promise.resolve();
    }
    return this.sendAs(row.kind, row.body);
  }

  private sendAs<K extends keyof Bodies & string>(kind: K, body: string): Promise<unknown> {
    const send: (body: Bodies[K]) => Promise<unknown> = this.senders[kind];
    return send(JSON.parse(body));
  }

  private isKind(kind: string): kind is keyof Bodies & string {
    return Object.hasOwn(this.senders, kind);
  }

  private armTimers(): void {
    this.timers.arm().catch((err: unknown) => log("error", "could not arm the outbox timer", { ...this.logFields(), error: String(err) }));
  }
}
