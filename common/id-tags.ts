// Ids this deployment mints for outsiders to quote back (webhook source ids, task ids) end in an HMAC
// tag of their body, under a key derived from TOKEN_SIGNING_KEY per kind of id, so the edge refuses
// a forged id by arithmetic alone, before any actor is asked (or born) for it.
import { encodeBytes } from "../protocol/ids.ts";
import { GenuineMemo } from "./genuine-memo.ts";

/** Tag length in Crockford base32 characters (65 bits). */
export const TAG_CHARS = 13;
export type TagPurpose = "webhook-source-id" | "task-id";

const encoder = new TextEncoder();
const keys = new Map<string, Promise<CryptoKey>>();

function tagKey(signingKey: string, purpose: TagPurpose): Promise<CryptoKey> {
  const material = `${purpose}\u0000${signingKey}`;
  let key = keys.get(material);
  if (!key) {
    key = crypto.subtle.importKey("raw", encoder.encode(material), { name: "HMAC", hash: "SHA-256" }, false, ["sign"]);
    keys.set(material, key);
  }
  return key;
}

export async function idTag(signingKey: string, purpose: TagPurpose, body: string): Promise<string> {
  const mac = new Uint8Array(await crypto.subtle.sign("HMAC", await tagKey(signingKey, purpose), encoder.encode(body)));
  return encodeBytes(mac, TAG_CHARS);
}

/** Ids whose tag checked out, per signing key and purpose (genuine-memo.ts). */
const genuine = new GenuineMemo<true>(4096);

/** Whether `tag` is `body`'s tag, compared in constant time (and remembered when it is). */
export async function tagMatches(signingKey: string, purpose: TagPurpose, body: string, tag: string): Promise<boolean> {
  const secret = `${purpose}\u0000${signingKey}`;
  const id = `${body}.${tag}`;
  if (genuine.get(secret, id)) return true;
  const want = encoder.encode(await idTag(signingKey, purpose, body));
  const got = encoder.encode(tag);
  const ok = want.byteLength === got.byteLength && crypto.subtle.timingSafeEqual(want, got);
  if (ok) genuine.set(secret, id, true);
  return ok;
}
