// The signed nudge a dispatcher sends its pool's origin when work arrives and no poll is parked
// (DESIGN.md §2): `POST /v1/wake` with the origin token, a unix-seconds timestamp, and the hex
// HMAC-SHA256(ORIGIN_TOKEN, `${timestamp}.${body}`) that the runner manager checks.
import { ORIGIN_TOKEN_HEADER, WAKE_PATH, WAKE_SIGNATURE_HEADER, WAKE_TIMESTAMP_HEADER, type WakeBody } from "../protocol/index.ts";

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
  try {
    const res = await fetch(new URL(WAKE_PATH, origin), {
      method: "POST",
      headers: {
        "content-type": "application/json",
        [ORIGIN_TOKEN_HEADER]: secret,
        [WAKE_TIMESTAMP_HEADER]: timestamp,
        [WAKE_SIGNATURE_HEADER]: await hmacHex(secret, `${timestamp}.${body}`),
      },
      body,
    });
    await res.body?.cancel();
    log(res.ok ? "info" : "warn", "wake sent", { ...wake, status: res.status });
  } catch (err) {
    log("warn", "wake failed", { project: wake.project, pool: wake.pool, error: String(err) });
  }
}

async function hmacHex(secret: string, text: string): Promise<string> {
  const key = await crypto.subtle.importKey("raw", new TextEncoder().encode(secret), { name: "HMAC", hash: "SHA-256" }, false, ["sign"]);
  const sig = new Uint8Array(await crypto.subtle.sign("HMAC", key, new TextEncoder().encode(text)));
  return [...sig].map((b) => b.toString(16).padStart(2, "0")).join("");
}

function log(level: "info" | "warn", msg: string, fields: Record<string, unknown>): void {
  console.log(JSON.stringify({ level, msg, actor: "dispatcher", ...fields }));
}
