// Webhook source ids carry an HMAC tag of their own body under the deployment's signing key, so a
// forged id is refused by arithmetic alone, before any actor hop. The edge checks tags on every
// delivery; the ProjectActor mints ids when a source is created.
import { encodeBytes, isId, randomPart } from "../protocol/ids.ts";
import { SOURCE_ID } from "../protocol/webhook.ts";

const encoder = new TextEncoder();
const tagKeys = new Map<string, Promise<CryptoKey>>();

function tagKey(signingKey: string): Promise<CryptoKey> {
  let key = tagKeys.get(signingKey);
  if (!key) {
    key = crypto.subtle.importKey("raw", encoder.encode(`webhook-source-id\u0000${signingKey}`), { name: "HMAC", hash: "SHA-256" }, false, ["sign"]);
    tagKeys.set(signingKey, key);
  }
  return key;
}

async function tag(signingKey: string, body: string): Promise<string> {
  const mac = new Uint8Array(await crypto.subtle.sign("HMAC", await tagKey(signingKey), encoder.encode(body)));
  return encodeBytes(mac, 13);
}

export async function mintSourceId(signingKey: string, projectId: string): Promise<string> {
  if (!isId("prj", projectId)) throw new Error(`not a project id: ${projectId}`);
  const body = projectId.slice(4) + randomPart(13);
  return `whs_${body}${await tag(signingKey, body)}`;
}

/**
 * A source id as logs may show it: without its tag, so a log line cannot be replayed as a hook URL
 * (for a Salesforce source, the URL is the credential).
 */
export function sourceRef(id: string): string {
  return id.length > 17 ? `${id.slice(0, -13)}…` : "whs_…";
}

/**
 * What a task shows as its source id: the reference of a full id (idempotent on a reference). Tasks
 * made before tasks held references hold the full id; readers get the reference all the same.
 */
export function publicSourceId(id: string): string {
  return SOURCE_ID.test(id) ? sourceRef(id) : id;
}

/** True for an id this deployment minted (constant-time tag check); false for anything forged. */
export async function isGenuineSourceId(signingKey: string, id: string): Promise<boolean> {
  const m = SOURCE_ID.exec(id);
  if (!m) return false;
  const want = encoder.encode(await tag(signingKey, m[1] + m[2]));
  return crypto.subtle.timingSafeEqual(want, encoder.encode(m[3]));
}
