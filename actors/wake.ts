// The signed nudge a dispatcher sends its pool's origin when work arrives and no poll is parked
// (docs/API.md "The wake nudge"): `POST /v1/wake` with the origin token (for Caddy), a unix-seconds timestamp, a fresh
// nonce, and the hex HMAC-SHA256 of `${timestamp}.${nonce}.${body}` under a key derived from the
// token (protocol/runner.ts WAKE_KEY_LABEL), which the runner manager checks. Whoever sees the token
// in the request (a proxy, a log) still cannot sign a wake, and a captured wake cannot be replayed.
import { log as logLine } from "../common/log.ts";
import {
  ORIGIN_TOKEN_HEADER,
  WAKE_KEY_LABEL,
  WAKE_NONCE_HEADER,
  WAKE_PATH,
  WAKE_SIGNATURE_HEADER,
  WAKE_TIMESTAMP_HEADER,
  type WakeBody,
} from "../protocol/index.ts";

/** The origin URL for a pool from POOL_ORIGINS (`{"<project>/<pool>": url}` or `{"*": url}`), or null. */
export function originOf(config: string | undefined, project: string, pool: string): string | null {
  if (!config) return null;
  try {
    const map = JSON.parse(config) as Record<string, unknown>;
    const url = map[`${project}/${pool}`] ?? map["*"];
    return typeof url === "string" && url ? url : null;
  } catch {
    log("warn", "POOL_ORIGINS is not a JSON object", {});
    return null;
  }
}

/** Sends one wake; best effort (the task waits in the queue anyway), so failures are only logged. */
export async function sendWake(origin: string, secret: string, wake: WakeBody, now = Date.now()): Promise<void> {
  const body = JSON.stringify(wake);
  const timestamp = String(Math.floor(now / 1000));
  const nonce = hex(crypto.getRandomValues(new Uint8Array(16)));
  try {
    const res = await fetch(new URL(WAKE_PATH, origin), {
      method: "POST",
      headers: {
        "content-type": "application/json",
        [ORIGIN_TOKEN_HEADER]: secret,
        [WAKE_TIMESTAMP_HEADER]: timestamp,
        [WAKE_NONCE_HEADER]: nonce,
        [WAKE_SIGNATURE_HEADER]: hex(await hmac(await wakeKey(secret), `${timestamp}.${nonce}.${body}`)),
      },
      body,
    });
    await res.body?.cancel();
    log(res.ok ? "info" : "warn", "wake sent", { ...wake, status: res.status });
  } catch (err) {
    log("warn", "wake failed", { project: wake.project, pool: wake.pool, error: String(err) });
  }
}

/** The wake signing key: HMAC-SHA256(ORIGIN_TOKEN, WAKE_KEY_LABEL). */
function wakeKey(originToken: string): Promise<Uint8Array> {
  return hmac(new TextEncoder().encode(originToken), WAKE_KEY_LABEL);
}

async function hmac(key: Uint8Array, text: string): Promise<Uint8Array> {
  const imported = await crypto.subtle.importKey("raw", key, { name: "HMAC", hash: "SHA-256" }, false, ["sign"]);
  return new Uint8Array(await crypto.subtle.sign("HMAC", imported, new TextEncoder().encode(text)));
}

function hex(bytes: Uint8Array): string {
  return [...bytes].map((b) => b.toString(16).padStart(2, "0")).join("");
}

function log(level: "info" | "warn", msg: string, fields: Record<string, unknown>): void {
  logLine(level, msg, { actor: "dispatcher", ...fields });
}
