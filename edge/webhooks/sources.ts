// Finding a delivery's source fast: forged ids are refused by their tag without an actor hop, and
// real ones are cached in isolate memory for SOURCE_TTL_MS with their keys already imported, so a
// warm edge verifies a delivery with no Durable Object round trip at all. Only the verifier closure
// (imported key or digest) is kept: the secret string itself is not held in the cache.
import { REVOCATION_SECONDS } from "../../protocol/limits.ts";
import { projectOfSource } from "../../protocol/webhook.ts";
import { isGenuineSourceId } from "../../common/source-ids.ts";
import type { WebhookKind, WebhookRule, WebhookSourceRecord } from "../../protocol/webhook.ts";
import { projectStub, type Env } from "../../actors/env.ts";
import { KINDS } from "./kinds.ts";
import type { Verifier } from "./verify.ts";

/** A PUT or DELETE elsewhere reaches this isolate within this long; here it takes effect at once. */
export const SOURCE_TTL_MS = REVOCATION_SECONDS * 1000;
const MAX_CACHED = 10_000;

export interface LiveSource {
  id: string;
  name: string;
  /** Re-deliveries and webhook task ids go by this, which survives rotating the URL (WebhookSourceRecord). */
  dedupeKey: string;
  project: string;
  kind: WebhookKind;
  rules: WebhookRule[];
  verify: Verifier;
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
  return { id: record.id, name: record.name, dedupeKey: record.dedupeKey, project: record.project, kind: record.kind, rules: record.rules, verify };
}

// Rules hold free-form payloads (`unknown`), which RPC's typing cannot prove serializable; the
// actor's method is declared with exactly this type, so this only restores it.
function sourceRecord(env: Env, project: string, id: string): Promise<WebhookSourceRecord | null> {
  return projectStub(env, project).webhookSourceById(id);
}

/** Called on PUT, rotation and DELETE so this isolate sees the change at once. */
export function forgetSource(id: string): void {
  cache.delete(id);
}
