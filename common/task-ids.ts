// Every task id the edge mints ends in an HMAC tag of its body (common/id-tags.ts), so a GET, cancel,
// socket or job call naming an id this deployment never minted is answered 404 at the edge without a
// TaskActor being born for it (nor, for `tsk_Z…` ids, a peek at an ingest shard every project shares).
// The body is what it always was: a time-ordered id for API tasks, `Z<shard><digest>` for webhook ones.
import { encodeBytes, ingestShard, ingestTaskId, newId } from "../protocol/ids.ts";
import { idTag, tagMatches } from "./id-tags.ts";

const TASK_ID = /^tsk_([0-9A-HJKMNP-TV-Z]{26})([0-9A-HJKMNP-TV-Z]{13})$/;

async function tagged(signingKey: string, untagged: string): Promise<string> {
  return `${untagged}${await idTag(signingKey, "task-id", untagged.slice(4))}`;
}

/** A new API task id: time-ordered body, then the tag. */
export function mintTaskId(signingKey: string, now = Date.now()): Promise<string> {
  return tagged(signingKey, newId("tsk", now));
}

/** The id of the task rule `rule` makes from a delivery in ingest shard `shard`: the same inputs always name it. */
export async function mintWebhookTaskId(signingKey: string, shard: number, dedupeKey: string, deliveryId: string, rule: number): Promise<string> {
  return tagged(signingKey, await ingestTaskId(shard, dedupeKey, deliveryId, String(rule)));
}

/**
 * The task a schedule's slot makes (issue 15): the slot's time, then a digest of (project, schedule,
 * slot), so a retried alarm names the same task and its second create answers the first one.
 */
export async function scheduleTaskId(signingKey: string, project: string, schedule: string, slot: number): Promise<string> {
  const digest = new Uint8Array(await crypto.subtle.digest("SHA-256", new TextEncoder().encode(`schedule\u0000${project}\u0000${schedule}\u0000${slot}`)));
  return tagged(signingKey, `${newId("tsk", slot).slice(0, 14)}${encodeBytes(digest, 16)}`);
}

/**
 * The ingest shard that records a delivery. A GitHub delivery goes to the shard of its body's digest,
 * so that a replay of the body under a new delivery id meets the first copy's claim there (in the
 * same batch and commit as the delivery); other kinds go by their delivery id.
 */
export function deliveryShard(dedupeKey: string, deliveryId: string, bodyDigest?: string): Promise<number> {
  return ingestShard(dedupeKey, bodyDigest ? `body:${bodyDigest}` : deliveryId);
}

/** The task a webhook delivery's rule makes, from the source's (first) id (and a GitHub body's SHA-256, hex). */
export async function webhookTaskId(signingKey: string, sourceId: string, deliveryId: string, rule: number, bodyDigest?: string): Promise<string> {
  return mintWebhookTaskId(signingKey, await deliveryShard(sourceId, deliveryId, bodyDigest), sourceId, deliveryId, rule);
}

/** True for a task id this deployment minted (constant-time tag check); false for anything else. */
export async function isGenuineTaskId(signingKey: string, id: string): Promise<boolean> {
  const m = TASK_ID.exec(id);
  return m ? tagMatches(signingKey, "task-id", m[1], m[2]) : false;
}
