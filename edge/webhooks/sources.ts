// Finding a delivery's source fast: forged ids are refused by their tag without an actor hop, and
// real ones are cached in isolate memory for SOURCE_TTL_MS with their keys already imported, so a
// warm edge verifies a delivery with no Durable Object round trip at all. Only the verifier closure
// (imported key or digest) is kept: the secret string itself is not held in the cache.
import { encodeBytes, isId, randomPart } from "../../protocol/ids.ts";
import { projectOfSource, SOURCE_ID } from "../../protocol/webhook.ts";
import type { WebhookKind, WebhookRule, WebhookSourceRecord } from "../../protocol/webhook.ts";
import { projectStub, type Env } from "../env.ts";
import { KINDS } from "./kinds.ts";
import type { Verifier } from "./verify.ts";

/** A PUT or DELETE elsewhere reaches this isolate within this long; here it takes effect at once. */
export const SOURCE_TTL_MS = 30_000;
const MAX_CACHED = 10_000;

export interface LiveSource {
  id: string;
  project: string;
  kind: WebhookKind;
  rules: WebhookRule[];
  verify: Verifier;
}

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

/** True for an id this deployment minted (constant-time tag check); false for anything forged. */
export async function isGenuineSourceId(signingKey: string, id: string): Promise<boolean> {
  const m = SOURCE_ID.exec(id);
  if (!m) return false;
  const want = encoder.encode(await tag(signingKey, m[1] + m[2]));
  return crypto.subtle.timingSafeEqual(want, encoder.encode(m[3]));
}

interface CacheEntry {
  at: number;
  source: Promise<LiveSource | null>;
}
const cache = new Map<string, CacheEntry>();

/**
 * The live source for a delivery, or null when the id is forged or names no source. Concurrent
 * misses share one lookup, so a storm on a cold isolate costs one ProjectActor call.
 */
export async function loadSource(env: Env, id: string, now = Date.now()): Promise<LiveSource | null> {
  const hit = cache.get(id);
  if (hit && now - hit.at < SOURCE_TTL_MS) return hit.source;
  if (!(await isGenuineSourceId(env.TOKEN_SIGNING_KEY, id))) return null;
  const project = projectOfSource(id);
  if (!project) return null;
  const source = fetchSource(env, project, id);
  if (cache.size >= MAX_CACHED) cache.delete(cache.keys().next().value ?? "");
  cache.set(id, { at: now, source });
  // A failed lookup (actor unavailable) must not be remembered as an answer.
  source.catch(() => {
    if (cache.get(id)?.source === source) cache.delete(id);
  });
  return source;
}

async function fetchSource(env: Env, project: string, id: string): Promise<LiveSource | null> {
  const record = await sourceRecord(env, project, id);
  if (!record) return null;
  const verify = await KINDS[record.kind].prepare(record);
  return { id: record.id, project: record.project, kind: record.kind, rules: record.rules, verify };
}

// Rules hold free-form payloads (`unknown`), which RPC's typing cannot prove serializable; the
// actor's method is declared with exactly this type, so this only restores it.
function sourceRecord(env: Env, project: string, id: string): Promise<WebhookSourceRecord | null> {
  return projectStub(env, project).webhookSourceById(id);
}

/** Called on PUT and DELETE so this isolate sees the change at once. */
export function forgetSource(id: string): void {
  cache.delete(id);
}
