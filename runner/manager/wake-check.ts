// The check of the edge's signed wake (POST /v1/wake; the format is in protocol/runner.ts). The key is
// derived from SFP_ORIGIN_TOKEN, so the token Caddy sees in the request does not sign a wake by itself,
// and every nonce that passed is remembered for as long as its timestamp is acceptable, so a captured
// wake is refused when it is sent again to this manager.
import { createHmac, timingSafeEqual } from "node:crypto";
import type { ErrorCode } from "../../protocol/errors.ts";
import { WAKE_KEY_LABEL, WAKE_NONCE_HEADER, WAKE_NONCE_PATTERN, WAKE_SIGNATURE_HEADER, WAKE_TIMESTAMP_HEADER } from "../../protocol/runner.ts";
import { TIMING } from "./config.ts";

/**
 * How many nonces one manager remembers. Only signed wakes are remembered, and a dispatcher wakes its
 * pool at most once a second, so this is far above what the edge sends; past it, wakes are refused
 * (a wake is only a nudge: the work waits in the queue) rather than a nonce forgotten early.
 */
export const MAX_WAKE_NONCES = 100_000;

export interface WakeHeaders {
  timestamp?: string;
  nonce?: string;
  signature?: string;
}

export interface WakeRefusal {
  status: 401 | 429;
  code: ErrorCode;
  message: string;
}

/** The wake signing key: HMAC-SHA256(SFP_ORIGIN_TOKEN, WAKE_KEY_LABEL). */
export function wakeKey(originToken: string): Buffer {
  return createHmac("sha256", originToken).update(WAKE_KEY_LABEL).digest();
}

export class WakeCheck {
  private readonly key: Buffer;
  private readonly maxNonces: number;
  /** nonce → when it may be forgotten (ms): its timestamp is too old to pass by then. */
  private readonly seen = new Map<string, number>();
  private prunedAt = 0;

  constructor(originToken: string, maxNonces = MAX_WAKE_NONCES) {
    this.key = wakeKey(originToken);
    this.maxNonces = maxNonces;
  }

  /** Why the wake is refused, or undefined when it is genuine, fresh and not seen before (it is then remembered). */
  check(headers: WakeHeaders, rawBody: Buffer, nowMs: number): WakeRefusal | undefined {
    const { timestamp, nonce, signature } = headers;
    if (!timestamp || !nonce || !signature) {
      return refuse("bad_signature", `${WAKE_TIMESTAMP_HEADER}, ${WAKE_NONCE_HEADER} and ${WAKE_SIGNATURE_HEADER} are required`);
    }
    if (!/^\d{1,16}$/.test(timestamp)) return refuse("bad_signature", `${WAKE_TIMESTAMP_HEADER} must be unix seconds`);
    if (!WAKE_NONCE_PATTERN.test(nonce)) return refuse("bad_signature", `${WAKE_NONCE_HEADER} must be 16 to 64 URL-safe characters`);
    const expected = createHmac("sha256", this.key).update(`${timestamp}.${nonce}.`).update(rawBody).digest();
    const given = /^[0-9a-f]{64}$/i.test(signature) ? Buffer.from(signature, "hex") : Buffer.alloc(0);
    if (given.length !== expected.length || !timingSafeEqual(given, expected)) {
      return refuse("bad_signature", "the wake signature does not match");
    }
    // Unix seconds; a millisecond timestamp is tolerated.
    const ts = Number(timestamp);
    const tsMs = (ts > 1e11 ? ts / 1000 : ts) * 1000;
    const skewMs = TIMING.wakeMaxSkewSeconds * 1000;
    if (Math.abs(nowMs - tsMs) > skewMs) {
      return refuse("stale_timestamp", `the wake timestamp is more than ${TIMING.wakeMaxSkewSeconds} s from now`);
    }
    this.forgetExpired(nowMs);
    if (this.seen.has(nonce)) return refuse("bad_signature", `this wake was already received (${WAKE_NONCE_HEADER} seen before): a replay`);
    if (this.seen.size >= this.maxNonces) return { status: 429, code: "rate_limited", message: "too many wakes within the timestamp window" };
    this.seen.set(nonce, tsMs + skewMs);
    return undefined;
  }

  /** At most once a second, or when full: a sweep of the map, not one per wake. */
  private forgetExpired(nowMs: number): void {
    if (nowMs - this.prunedAt < 1_000 && this.seen.size < this.maxNonces) return;
    this.prunedAt = nowMs;
    for (const [nonce, until] of this.seen) if (until < nowMs) this.seen.delete(nonce);
  }
}

function refuse(code: ErrorCode, message: string): WakeRefusal {
  return { status: 401, code, message };
}
