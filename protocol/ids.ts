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

export function randomPart(chars = 16): string {
  return encodeBytes(crypto.getRandomValues(new Uint8Array(Math.ceil((chars * 5) / 8))), chars);
}

/** A new time-ordered id: `tsk_01JD…`. */
export function newId(prefix: IdPrefix, now = Date.now()): string {
  return `${prefix}_${encodeTime(now)}${randomPart(16)}`;
}

/**
 * An id derived from stable inputs (for example a webhook's source, delivery id and rule index), so
 * that the same inputs always name the same object and a re-delivery finds the task it made before.
 * It keeps the 26-character shape but is not time-ordered; lists order by createdAt, not by id.
 */
export async function derivedId(prefix: IdPrefix, ...parts: string[]): Promise<string> {
  const data = new TextEncoder().encode(parts.join("\u0000"));
  const digest = new Uint8Array(await crypto.subtle.digest("SHA-256", data));
  return `${prefix}_${encodeBytes(digest, 26)}`;
}

const ID_RE = /^[a-z]{3}_[0-9A-HJKMNP-TV-Z]{26}$/;

export function isId(prefix: IdPrefix, value: string): boolean {
  return value.startsWith(`${prefix}_`) && ID_RE.test(value);
}
