// Ids carry a prefix (prj_, tsk_, rnr_, whs_, tok_, …). Time-ordered ids are ULID-like: 10 Crockford
// base32 characters of milliseconds, then 16 of randomness, so they sort by creation time as text.
const CROCKFORD = "0123456789ABCDEFGHJKMNPQRSTVWXYZ";

export type IdPrefix = "prj" | "tsk" | "rnr" | "whs" | "tok" | "asg" | "rtk" | "req" | "wst";

function encodeTime(ms: number): string {
  let out = "";
  let n = ms;
  for (let i = 0; i < 10; i++) {
    out = CROCKFORD[n % 32] + out;
    n = Math.floor(n / 32);
  }
  return out;
}

/** Crockford base32 of `bytes`, cut to `chars` characters. */
export function encodeBytes(bytes: Uint8Array, chars: number): string {
  let out = "";
  let acc = 0;
  let bits = 0;
  for (const b of bytes) {
    acc = (acc << 8) | b;
    bits += 8;
    while (bits >= 5 && out.length < chars) {
      out += CROCKFORD[(acc >>> (bits - 5)) & 31];
      bits -= 5;
    }
    acc &= (1 << bits) - 1;
  }
  return out;
}

// Random bytes are drawn from the system's generator a few kilobytes at a time, not 10 bytes per
// id: the edge mints a request id per request, and one getRandomValues call per id was ~7% of a
// long-poll's CPU (bench B4 profile). Filled lazily, because workerd forbids randomness at startup.
const POOL_BYTES = 4096;
let pool = new Uint8Array(0);
let used = 0;

function randomBytes(n: number): Uint8Array {
  if (used + n > pool.length) {
    pool = crypto.getRandomValues(new Uint8Array(POOL_BYTES));
    used = 0;
  }
  used += n;
  return pool.subarray(used - n, used);
}

export function randomPart(chars = 16): string {
  return encodeBytes(randomBytes(Math.ceil((chars * 5) / 8)), chars);
}

/** A new time-ordered id: `tsk_01JD…`. */
export function newId(prefix: IdPrefix, now = Date.now()): string {
  return `${prefix}_${encodeTime(now)}${randomPart(16)}`;
}

async function digestOf(parts: string[]): Promise<Uint8Array> {
  return new Uint8Array(await crypto.subtle.digest("SHA-256", new TextEncoder().encode(parts.join("\u0000"))));
}

/**
 * Tasks made by webhook deliveries are born in an ingest shard, and their id says which: `tsk_Z`, the
 * shard as one base32 character, then 24 characters of a digest of (source, delivery, rule) — then,
 * like every task id, the edge's 13-character tag (common/task-ids.ts). A time-ordered id never
 * starts with Z (that would be the year 10889), so the two cannot collide, and a task actor that has
 * not yet materialized knows where its record waits.
 */
export const INGEST_SHARDS = 4;
const INGEST_MARK = "Z";
/** `tsk_`, a 26-character body, a 13-character tag. */
export const TASK_ID_LENGTH = 43;

export async function ingestShard(...parts: string[]): Promise<number> {
  return (await digestOf(parts))[0] % INGEST_SHARDS;
}

/** The untagged body of a webhook task's id: `tsk_Z<shard><digest>`; common/task-ids.ts tags it. */
export async function ingestTaskId(shard: number, ...parts: string[]): Promise<string> {
  return `tsk_${INGEST_MARK}${CROCKFORD[shard]}${encodeBytes(await digestOf(parts), 24)}`;
}

export function ingestShardOf(taskId: string): number | null {
  if (taskId.length !== TASK_ID_LENGTH || taskId[4] !== INGEST_MARK) return null;
  const shard = CROCKFORD.indexOf(taskId[5]);
  return shard >= 0 && shard < INGEST_SHARDS ? shard : null;
}

const ID_RE = /^[a-z]{3}_[0-9A-HJKMNP-TV-Z]{26}$/;

export function isId(prefix: IdPrefix, value: string): boolean {
  return value.startsWith(`${prefix}_`) && ID_RE.test(value);
}
