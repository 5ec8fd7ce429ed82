// Webhook source ids carry an HMAC tag of their own body under the deployment's signing key, so a
// forged id is refused by arithmetic alone, before any actor hop. The edge checks tags on every
// delivery; the ProjectActor mints ids when a source is created.
import { isId, randomPart } from "../protocol/ids.ts";
import { idTag, tagMatches } from "./id-tags.ts";
import { SOURCE_ID } from "../protocol/webhook.ts";

export async function mintSourceId(signingKey: string, projectId: string): Promise<string> {
  if (!isId("prj", projectId)) throw new Error(`not a project id: ${projectId}`);
  const body = projectId.slice(4) + randomPart(13);
  return `whs_${body}${await idTag(signingKey, "webhook-source-id", body)}`;
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
  return tagMatches(signingKey, "webhook-source-id", m[1] + m[2], m[3]);
}
