// Bearer tokens are signed, self-describing claims: `sfp_<base64url(claims)>.<base64url(HMAC)>`.
// The edge checks one with a single HMAC and a cached revocation list — no Durable Object round trip
// on the hot path. Only the token's SHA-256 is stored (ProjectActor), so a leaked database shows none.
import type { Role } from "../protocol/index.ts";
import { GenuineMemo } from "./genuine-memo.ts";

export type Claims =
  | { k: "api"; id: string; p: string; r: Role; e: number }
  | { k: "rnr"; id: string; p: string; pool: string }
  | { k: "job"; t: string; p: string; ep: number }
  // A runner registration token: redeemable `uses` times (counted by the ProjectActor) until `e`.
  | { k: "reg"; id: string; p: string; pool: string; e: number }
  | { k: "wst"; id: string; p: string; tok: string; r: Role; e: number; task?: string };

const PREFIX = "sfp_";
const keys = new Map<string, Promise<CryptoKey>>();

function hmacKey(secret: string): Promise<CryptoKey> {
  let key = keys.get(secret);
  if (!key) {
    key = crypto.subtle.importKey("raw", new TextEncoder().encode(secret), { name: "HMAC", hash: "SHA-256" }, false, ["sign", "verify"]);
    keys.set(secret, key);
  }
  return key;
}

export function b64url(bytes: Uint8Array): string {
  let s = "";
  for (const b of bytes) s += String.fromCharCode(b);
  return btoa(s).replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");
}

export function fromB64url(text: string): Uint8Array | null {
  if (!/^[A-Za-z0-9_-]*$/.test(text)) return null;
  try {
    const bin = atob(text.replace(/-/g, "+").replace(/_/g, "/"));
    return Uint8Array.from(bin, (c) => c.charCodeAt(0));
  } catch {
    return null;
  }
}

export async function signToken(secret: string, claims: Claims): Promise<string> {
  const body = b64url(new TextEncoder().encode(JSON.stringify(claims)));
  const sig = new Uint8Array(await crypto.subtle.sign("HMAC", await hmacKey(secret), new TextEncoder().encode(body)));
  return `${PREFIX}${body}.${b64url(sig)}`;
}

/** The claims of tokens whose signature checked out (genuine-memo.ts); expiry is still checked on every use. */
const verified = new GenuineMemo<Claims>(4096);

/** The claims of a genuine, unexpired token, or null. Verification is constant time (subtle.verify). */
export async function verifyToken(secret: string, token: string, now = Date.now()): Promise<Claims | null> {
  const known = verified.get(secret, token);
  if (known) return unexpired(known, now);
  const claims = await checkSignature(secret, token);
  // Frozen: every later request with this token shares the one object.
  if (claims) verified.set(secret, token, Object.freeze(claims));
  return claims && unexpired(claims, now);
}

function unexpired(claims: Claims, now: number): Claims | null {
  return "e" in claims && claims.e && claims.e * 1000 <= now ? null : claims;
}

async function checkSignature(secret: string, token: string): Promise<Claims | null> {
  if (!token.startsWith(PREFIX) || token.length > 2048) return null;
  const dot = token.lastIndexOf(".");
  if (dot < 0) return null;
  const body = token.slice(PREFIX.length, dot);
  const sig = fromB64url(token.slice(dot + 1));
  if (sig?.length !== 32) return null;
  const ok = await crypto.subtle.verify("HMAC", await hmacKey(secret), sig, new TextEncoder().encode(body));
  if (!ok) return null;
  const raw = fromB64url(body);
  if (!raw) return null;
  let claims: Claims;
  try {
    claims = JSON.parse(new TextDecoder().decode(raw)) as Claims;
  } catch {
    return null;
  }
  return claims;
}

export async function sha256Hex(text: string): Promise<string> {
  const digest = new Uint8Array(await crypto.subtle.digest("SHA-256", new TextEncoder().encode(text)));
  return [...digest].map((b) => b.toString(16).padStart(2, "0")).join("");
}

/** Constant-time equality of two strings (for the admin token and shared secrets). */
export async function safeEqual(a: string, b: string): Promise<boolean> {
  const [ha, hb] = await Promise.all([sha256Hex(a), sha256Hex(b)]);
  let diff = 0;
  for (let i = 0; i < ha.length; i++) diff |= ha.charCodeAt(i) ^ hb.charCodeAt(i);
  return diff === 0;
}
