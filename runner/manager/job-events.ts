// A job's events on their way to the edge: numbered with a gapless per-lease seq, sent in batches
// that keep to the contract's count and to the API body limit, resent until acknowledged. A log
// event too big for one body is split into several; an edge (or a proxy) that still answers 413
// makes the batches smaller, so no later line is ever dropped because one batch was too large.
import { EdgeError } from "../../protocol/client.ts";
import { MAX_API_BODY_BYTES, MAX_EVENT_BATCH } from "../../protocol/limits.ts";
import { isRetryable, retryDelayMs, sleep } from "../../protocol/retry.ts";
import { RunnerEvent } from "../../protocol/runner.ts";
import { RETRY, TIMING } from "./config.ts";
import type { Logger } from "./log.ts";

/** What one events POST may carry: the API body limit, less room for `{"leaseEpoch":…,"events":[]}`. */
export const EVENT_BODY_BUDGET = MAX_API_BODY_BYTES - 1024;
/** Batches never shrink below this after a 413: one event that large is replaced by a notice. */
export const MIN_EVENT_BODY_BUDGET = 4 * 1024;

type LogEvent = Extract<RunnerEvent, { type: "log" }>;

export interface JobEventsDeps {
  /** One POST of a batch; answers the edge's ackedSeq. */
  post(events: RunnerEvent[]): Promise<number>;
  /** True when the error ended the lease's writes (the job stops; nothing more is sent). */
  refused(err: unknown): boolean;
  /** Aborted when the lease is lost or the task is gone. */
  leaseGone: AbortSignal;
  log: Logger;
  /** The body budget to start from (tests pass a small one). */
  bodyBudget?: number;
}

export function eventBytes(event: RunnerEvent): number {
  return Buffer.byteLength(JSON.stringify(event));
}

export class JobEvents {
  private readonly deps: JobEventsDeps;
  private pending: RunnerEvent[] = [];
  private nextSeq = 1;
  private flushTimer?: NodeJS.Timeout;
  private sending?: Promise<void>;
  private broken = false;
  private budget: number;
  /** Events per POST: the contract's count, fewer once a small batch was refused as too large. */
  private batchCap = MAX_EVENT_BATCH;

  constructor(deps: JobEventsDeps) {
    this.deps = deps;
    this.budget = deps.bodyBudget ?? EVENT_BODY_BUDGET;
  }

  /** Events not yet acknowledged. */
  get unacknowledged(): number {
    return this.pending.length;
  }

  /** A worker's event: checked against the contract, split to fit a body, numbered, queued; false when malformed. */
  enqueue(event: Record<string, unknown>): boolean {
    const parsed = RunnerEvent.safeParse({ ...event, seq: this.nextSeq });
    if (!parsed.success) {
      this.deps.log.warn("ignored a malformed worker event", { issues: parsed.error.issues.map((i) => i.path.join(".")) });
      return false;
    }
    for (const piece of splitToFit(parsed.data, this.budget)) this.pending.push({ ...piece, seq: this.nextSeq++ });
    if (this.pending.length >= MAX_EVENT_BATCH) void this.flush(false);
    else this.flushTimer ??= setTimeout(() => void this.flush(false), TIMING.eventFlushMs);
    return true;
  }

  /** Sends every pending event now, past the batching; true once the edge acknowledged them all. */
  async flushAll(): Promise<boolean> {
    await this.flush(true);
    return this.pending.length === 0;
  }

  /** Sends pending events (one sender at a time); with `all`, until every event is acknowledged. */
  async flush(all: boolean): Promise<void> {
    clearTimeout(this.flushTimer);
    this.flushTimer = undefined;
    do {
      this.sending ??= this.sendPending().finally(() => (this.sending = undefined));
      await this.sending;
    } while (all && this.pending.length > 0 && !this.broken && !this.deps.leaseGone.aborted);
  }

  private async sendPending(): Promise<void> {
    let failures = 0;
    while (this.pending.length > 0 && !this.broken && !this.deps.leaseGone.aborted) {
      const batch = takeBatch(this.pending, this.budget, this.batchCap);
      try {
        const acked = await this.deps.post(batch);
        this.pending = this.pending.filter((e) => e.seq > acked);
        failures = 0;
      } catch (err) {
        if (this.deps.refused(err)) return;
        if (err instanceof EdgeError && err.code === "too_large") {
          this.shrink(batch);
          continue;
        }
        if (err instanceof EdgeError && !isRetryable(err)) {
          // The edge will not take these events; sending them again would only repeat the refusal.
          this.broken = true;
          this.deps.log.error("the edge refused the job's events", { status: err.status, code: err.code, error: err.message });
          return;
        }
        failures++;
        const wait = retryDelayMs(RETRY.events, failures, err);
        this.deps.log.warn("sending events failed; will resend", { error: err, pending: this.pending.length, retryInMs: wait });
        await sleep(wait, this.deps.leaseGone);
      }
    }
  }

  /**
   * The edge refused a batch as too large (its limit is below ours, or a proxy's is): send fewer
   * bytes at a time, and cut the pending events to the smaller budget. Nothing after the last
   * acknowledged seq is stored at the edge (it keeps only the contiguous prefix), so the pending
   * events may be numbered afresh. Every step halves something, so this ends.
   */
  private shrink(batch: RunnerEvent[]): void {
    const sent = batch.reduce((n, e) => n + eventBytes(e), 0);
    const first = this.pending[0].seq;
    if (batch.length > 1) {
      if (this.budget > MIN_EVENT_BODY_BUDGET) this.budget = Math.max(MIN_EVENT_BODY_BUDGET, Math.min(this.budget, sent) >> 1);
      else this.batchCap = Math.max(1, batch.length >> 1);
    } else if (sent > MIN_EVENT_BODY_BUDGET) {
      this.budget = Math.max(MIN_EVENT_BODY_BUDGET, Math.min(this.budget, sent) >> 1);
    } else {
      // One small event refused: an edge limit this low is a misconfiguration; lose this event only.
      this.pending.shift();
      this.deps.log.error("the edge refused one small event as too large; dropped it", { type: batch[0].type, bytes: sent });
    }
    this.pending = this.pending.flatMap((e) => splitToFit(e, this.budget)).map((e, i) => ({ ...e, seq: first + i }));
    this.nextSeq = first + this.pending.length;
    this.deps.log.warn("the edge refused an events batch as too large; sending smaller ones", {
      events: batch.length,
      bytes: sent,
      budgetBytes: this.budget,
      batchCap: this.batchCap,
    });
  }
}

/** The longest prefix of `pending` within `cap` events and `budget` bytes (at least one event). */
export function takeBatch(pending: RunnerEvent[], budget: number, cap = MAX_EVENT_BATCH): RunnerEvent[] {
  let bytes = 0;
  let n = 0;
  while (n < pending.length && n < cap) {
    bytes += eventBytes(pending[n]) + 1;
    if (n > 0 && bytes > budget) break;
    n++;
  }
  return pending.slice(0, n);
}

/** The event as pieces that each fit `budget`: a log event's lines are shared out (a line too long is clipped). */
export function splitToFit(event: RunnerEvent, budget: number): RunnerEvent[] {
  if (event.type !== "log" || eventBytes(event) <= budget) return [event];
  const pieces: LogEvent[] = [];
  let lines: string[] = [];
  let bytes = eventBytes({ ...event, lines: [] });
  const overhead = bytes;
  for (const raw of event.lines) {
    const line = clipToBytes(raw, budget - overhead - 1);
    const size = Buffer.byteLength(JSON.stringify(line)) + 1;
    if (lines.length > 0 && bytes + size > budget) {
      pieces.push({ ...event, lines });
      lines = [];
      bytes = overhead;
    }
    lines.push(line);
    bytes += size;
  }
  if (lines.length > 0) pieces.push({ ...event, lines });
  return pieces;
}

/** `line` shortened (with a trailing `…`) until its JSON form takes at most `bytes`. */
function clipToBytes(line: string, bytes: number): string {
  const size = (text: string) => Buffer.byteLength(JSON.stringify(text));
  if (size(line) <= bytes) return line;
  for (let keep = Math.floor((line.length * bytes) / size(line)); keep > 0; keep = Math.floor(keep * 0.9)) {
    const clipped = `${line.slice(0, keep)}…`;
    if (size(clipped) <= bytes) return clipped;
  }
  return "…";
}
