// The Node clients' one retry vocabulary (runner manager, CLI), next to EdgeClient: which failures
// are worth another try, how long to wait between tries, and one way to wait. A policy is named by
// what it guards and says attempts + backoff, as the Buildkite agent's retriers do.
import { EdgeError } from "./client.ts";
import type { ErrorCode } from "./errors.ts";

/** How the wait grows between attempts: initialMs, times multiplier per failure, capped at maxMs. */
export interface Backoff {
  initialMs: number;
  maxMs: number;
  multiplier: number;
  /** Each wait is spread ±jitter (0.2 = ±20 %) so that many clients do not retry in step. */
  jitter: number;
}

export interface RetryPolicy {
  /** Attempts in all, the first included; Infinity for loops that retry until told to stop. */
  attempts: number;
  backoff: Backoff;
}

/** Doubling (or `multiplier`) from initialMs up to maxMs, ±20 %. */
export function exponential(initialMs: number, maxMs: number, multiplier = 2): Backoff {
  return { initialMs, maxMs, multiplier, jitter: 0.2 };
}

/** The same wait every time, ±20 %. */
export function constant(ms: number): Backoff {
  return { initialMs: ms, maxMs: ms, multiplier: 1, jitter: 0.2 };
}

/** One attempt, no retry: for calls whose next scheduled run is the retry. */
export const ONCE: RetryPolicy = { attempts: 1, backoff: constant(0) };

/** The wait after the `failures`-th consecutive failure (1 for the first). */
export function backoffMs(backoff: Backoff, failures: number, random: () => number = Math.random): number {
  const base = Math.min(backoff.maxMs, backoff.initialMs * backoff.multiplier ** Math.max(0, failures - 1));
  return Math.round(base * (1 - backoff.jitter + random() * 2 * backoff.jitter));
}

/** The codes worth another try: the request may succeed unchanged. Every other code will not. */
const RETRYABLE_CODES: ReadonlySet<ErrorCode | "network"> = new Set(["network", "rate_limited", "internal", "unavailable"]);

/** Network failures, rate limits and the edge's own faults are worth another try; other answers are not. */
export function isRetryable(err: unknown): boolean {
  return err instanceof EdgeError && RETRYABLE_CODES.has(err.code);
}

/** The wait before the next attempt: the policy's backoff, or longer when the edge said Retry-After. */
export function retryDelayMs(policy: RetryPolicy, failures: number, err: unknown): number {
  const retryAfterMs = err instanceof EdgeError && err.retryAfter ? err.retryAfter * 1000 : 0;
  return Math.max(backoffMs(policy.backoff, failures), retryAfterMs);
}

/**
 * Waits `ms`, or less when `signal` aborts. It never throws: it answers true when the whole wait
 * passed and false when the signal cut it short (or was aborted already), and the caller decides
 * what an abort means (a wake ends a backoff early; a shutdown ends a loop).
 */
export function sleep(ms: number, signal?: AbortSignal): Promise<boolean> {
  return new Promise((resolve) => {
    if (signal?.aborted) return resolve(false);
    const end = (full: boolean) => {
      clearTimeout(timer);
      signal?.removeEventListener("abort", onAbort);
      resolve(full);
    };
    const onAbort = () => end(false);
    const timer = setTimeout(() => end(true), ms);
    signal?.addEventListener("abort", onAbort, { once: true });
  });
}

export interface RetryOptions {
  signal?: AbortSignal;
  /** Epoch ms after which no new attempt starts (a lease's end), read before each wait. */
  deadline?: () => number;
  /** Told before each wait (for a log line or a notice). */
  onRetry?: (err: EdgeError, failures: number, waitMs: number) => void;
}

/** Runs `attempt` until it succeeds, fails with a code not worth retrying, or the policy is spent. */
export async function withRetry<T>(policy: RetryPolicy, attempt: () => Promise<T>, opts: RetryOptions = {}): Promise<T> {
  for (let failures = 1; ; failures++) {
    try {
      return await attempt();
    } catch (err) {
      if (!(err instanceof EdgeError) || !isRetryable(err) || failures >= policy.attempts || opts.signal?.aborted) throw err;
      const wait = retryDelayMs(policy, failures, err);
      if (opts.deadline && Date.now() + wait >= opts.deadline()) throw err;
      opts.onRetry?.(err, failures, wait);
      if (!(await sleep(wait, opts.signal))) throw err;
    }
  }
}
