// Webhook sources (owner API) and deliveries (`POST /v1/hooks/:sourceId`; docs/API.md "Webhooks").
// A delivery is refused as early and as cheaply as possible: forged source id (no actor hop), media
// type, size (before reading it all), authenticity on the raw bytes, then the source's rate limit
// (only proven deliveries spend it), then parsing. A
// genuine one becomes one task per (delivery id, matching rule) with an id derived from the source's
// dedupe key, made durable in the delivery's ingest shard, whose record of the delivery id makes
// re-deliveries and concurrent copies answer the first one's tasks. A source's id is a credential:
// logs, rate-limit keys and tasks carry its reference (common/source-ids.ts), never the id.
import { createRoute, z } from "@hono/zod-openapi";
import type { NewTask } from "../../common/messages.ts";
import { ApiError, fromRpcError } from "../../protocol/index.ts";
import { deliveryShard } from "../../common/task-ids.ts";
import { DeliveryAnswer, PutWebhookSourceBody, WebhookSourceAnswer, WebhookSourceList, WebhookSourceName, type WebhookSource } from "../../protocol/webhook.ts";
import { limitFailedAuth, requireProjectToken } from "../auth/middleware.ts";
import { projectStub, type Env } from "../../actors/env.ts";
import { count } from "../../actors/metrics.ts";
import { requestIdOf, type AppContext } from "../http.ts";
import { bearerAuth, errors, ErrorSchema, json, jsonBody, router } from "../openapi.ts";
import { ingest } from "../ingest.ts";
import { poolOf } from "../new-task.ts";
import { readLimitedBody } from "../webhooks/body.ts";
import { KINDS } from "../webhooks/kinds.ts";
import { ruleTasks } from "../webhooks/rule-tasks.ts";
import { SOAP_ACK, soapFault } from "../webhooks/salesforce.ts";
import { sourceRef } from "../../common/source-ids.ts";
import { forgetSource, loadSource, type LiveSource } from "../webhooks/sources.ts";
import { allowLoopback } from "../../actors/notifier.ts";
import { checkEndpointUrl } from "../../common/endpoint-url.ts";
import { commitOf } from "../commit-of.ts";
import type { VerifiedDelivery } from "../webhooks/verify.ts";

export const webhooks = router();

const ProjectParam = z.object({ project: z.string().min(1).max(64) });
const SourceParam = ProjectParam.extend({ name: WebhookSourceName });
/** The rate-limit binding's period (wrangler.toml): a refused sender may try again after it. */
const LIMIT_PERIOD_SECONDS = 10;

// ---- owner API ----------------------------------------------------------------------------------

webhooks.openapi(
  createRoute({
    method: "put",
    path: "/v1/projects/{project}/webhook-sources/{name}",
    summary: "Create or replace a webhook source (owner); the answer never holds the secret",
    security: bearerAuth,
    request: { params: SourceParam, ...jsonBody(PutWebhookSourceBody) },
    responses: { 200: json(WebhookSourceAnswer, "the source, with its delivery URL"), ...errors(400, 401, 403, 404, 415, 429) },
  }),
  async (c) => {
    const { project, name } = c.req.valid("param");
    await requireProjectToken(c, "project:admin", project);
    const body = c.req.valid("json");
    // A rule naming an unknown org would fail every delivery; say so to the owner now instead.
    for (const [i, rule] of body.rules.entries()) await poolOf(c.env, project, rule.task.org, `rules[${i}].task.org`);
    // Commit statuses (issue 14): where the status API may be, and the origin that makes dashboard links.
    const apiUrl = body.statusApiUrl === undefined ? null : checkEndpointUrl(body.statusApiUrl, allowLoopback(c.env));
    if (apiUrl && !apiUrl.ok) throw new ApiError("invalid_request", `statusApiUrl: refused: ${apiUrl.reason}`, { field: "statusApiUrl" });
    const source: WebhookSource = await projectStub(c.env, project).putWebhookSource(name, body, new URL(c.req.url).origin);
    forgetSource(source.id);
    return c.json({ source }, 200);
  },
);

webhooks.openapi(
  createRoute({
    method: "get",
    path: "/v1/projects/{project}/webhook-sources",
    summary: "List the project's webhook sources (owner)",
    security: bearerAuth,
    request: { params: ProjectParam },
    responses: { 200: json(WebhookSourceList, "sources"), ...errors(401, 403, 404, 429) },
  }),
  async (c) => {
    const { project } = c.req.valid("param");
    await requireProjectToken(c, "project:admin", project);
    const sources: WebhookSource[] = await projectStub(c.env, project).listWebhookSources();
    return c.json({ sources }, 200);
  },
);

webhooks.openapi(
  createRoute({
    method: "get",
    path: "/v1/projects/{project}/webhook-sources/{name}",
    summary: "Read a webhook source (owner)",
    security: bearerAuth,
    request: { params: SourceParam },
    responses: { 200: json(WebhookSourceAnswer, "the source"), ...errors(401, 403, 404, 429) },
  }),
  async (c) => {
    const { project, name } = c.req.valid("param");
    await requireProjectToken(c, "project:admin", project);
    const source: WebhookSource = await projectStub(c.env, project).getWebhookSource(name);
    return c.json({ source }, 200);
  },
);

webhooks.openapi(
  createRoute({
    method: "post",
    path: "/v1/projects/{project}/webhook-sources/{name}/rotate",
    summary: "Rotate a webhook source's URL (owner): a new id; the old URL stops working at once on this edge, within 30 s everywhere",
    description:
      "The source keeps its name, kind, secret and rules; re-deliveries of what it received before are still recognised. Point the sender at the new URL.",
    security: bearerAuth,
    request: { params: SourceParam },
    responses: { 200: json(WebhookSourceAnswer, "the source, with its new id and URL"), ...errors(401, 403, 404, 429) },
  }),
  async (c) => {
    const { project, name } = c.req.valid("param");
    await requireProjectToken(c, "project:admin", project);
    const { source, previousId }: { source: WebhookSource; previousId: string } = await projectStub(c.env, project).rotateWebhookSource(name);
    forgetSource(previousId);
    forgetSource(source.id);
    return c.json({ source }, 200);
  },
);

webhooks.openapi(
  createRoute({
    method: "delete",
    path: "/v1/projects/{project}/webhook-sources/{name}",
    summary: "Delete a webhook source (owner): at once on this edge, within 30 s everywhere",
    security: bearerAuth,
    request: { params: SourceParam },
    responses: { 204: { description: "deleted" }, ...errors(401, 403, 404, 429) },
  }),
  async (c) => {
    const { project, name } = c.req.valid("param");
    await requireProjectToken(c, "project:admin", project);
    forgetSource(await projectStub(c.env, project).deleteWebhookSource(name));
    return c.body(null, 204);
  },
);

// ---- deliveries ---------------------------------------------------------------------------------

// Salesforce sources are answered in SOAP (an Ack, or a fault with the same status as the JSON error).
const soap = { "text/xml": { schema: z.string().openapi({ description: "SOAP envelope (salesforce sources)" }) } };
const jsonOrSoap = <T extends z.ZodType>(schema: T, description: string) => ({
  description,
  content: { "application/json": { schema }, ...soap },
});

const deliveryRoute = createRoute({
  method: "post",
  path: "/v1/hooks/{sourceId}",
  summary: "Receive a delivery (GitHub, GitLab, Standard Webhooks, Salesforce outbound message)",
  description: "Authenticated by the sender's signature (or, for Salesforce, by orgId and the unguessable source id), never by a bearer token.",
  request: { params: z.object({ sourceId: z.string().max(100) }) },
  responses: {
    202: json(DeliveryAnswer, "tasks created"),
    200: jsonOrSoap(DeliveryAnswer, "a re-delivery (duplicate), a ping, or no rule matched; Salesforce: the Ack"),
    ...Object.fromEntries([400, 401, 413, 415, 429].map((s) => [s, jsonOrSoap(ErrorSchema, `error (${s})`)])),
    ...errors(404),
  },
});

webhooks.openapi(deliveryRoute, async (c) => {
  const { sourceId } = c.req.valid("param");
  const source = await loadSource(c.env, sourceId);
  if (!source) {
    // An unknown id is a failed authentication (someone guessing URLs): per-IP limit applies.
    await limitFailedAuth(c);
    throw new ApiError("not_found", "no such webhook source");
  }
  const counted = (status: number) => c.executionCtx.waitUntil(count(c.env, "sfp_webhook_deliveries_total", { kind: source.kind, answer: String(status) }));
  try {
    const res = await receive(c, source);
    counted(res.status);
    return res;
  } catch (err) {
    counted((fromRpcError(err) ?? new ApiError("internal", "")).status);
    if (source.kind !== "salesforce") throw err;
    // Salesforce reads SOAP faults, not JSON; everything else keeps the contract's JSON errors.
    const api = fromRpcError(err) ?? new ApiError("internal", "internal error; quote the requestId when reporting it");
    if (api.code === "internal")
      console.log(
        JSON.stringify({ level: "error", msg: "webhook delivery failed", requestId: requestIdOf(c), source: sourceRef(sourceId), error: String(err) }),
      );
    const headers: Record<string, string> = { "content-type": "text/xml; charset=utf-8" };
    if (api.retryAfter !== undefined) headers["retry-after"] = String(api.retryAfter);
    return c.body(soapFault(api.status, api.code, api.message, requestIdOf(c)), api.status, headers);
  }
});

/** Refusals of a request not shown to be the sender's: they count against its address, not the source. */
const UNPROVEN = new Set(["bad_signature", "stale_timestamp", "unsupported_media_type", "too_large", "invalid_request", "invalid_json"]);

/**
 * Proves the delivery is the sender's before it is charged to the source's limit: were the source
 * charged first, anyone who knows a hook URL could spend its budget with unsigned requests and make
 * the sender's genuine deliveries 429 (GitHub does not retry those). A refusal is charged to the
 * client's address instead (the per-IP failure limit).
 */
async function verified(c: AppContext, source: LiveSource): Promise<VerifiedDelivery & { bodyDigest?: string }> {
  try {
    const mediaType = (c.req.header("content-type") ?? "").split(";")[0].trim().toLowerCase();
    if (!KINDS[source.kind].mediaTypes.includes(mediaType)) {
      await c.req.raw.body?.cancel();
      throw new ApiError("unsupported_media_type", `a ${source.kind} delivery is ${KINDS[source.kind].mediaTypes.join(" or ")}`);
    }
    const body = await readLimitedBody(c.req.raw);
    const delivery = await source.verify(c.req.raw.headers, body, Date.now());
    return source.kind === "github" ? { ...delivery, bodyDigest: await bodyDigest(body) } : delivery;
  } catch (err) {
    if (err instanceof ApiError && UNPROVEN.has(err.code)) await limitFailedAuth(c);
    throw err;
  }
}

async function receive(c: AppContext, source: LiveSource) {
  const delivery = await verified(c, source);
  const { success } = await c.env.WEBHOOK_LIMIT.limit({ key: sourceRef(source.id) });
  if (!success) throw new ApiError("rate_limited", "too many deliveries for this source", { retryAfter: LIMIT_PERIOD_SECONDS });
  if (delivery.ping) return c.json({ deliveryId: delivery.deliveryId, tasks: [] }, 200);

  // One entry per delivery id (one per Notification for Salesforce, which may repeat one in a message).
  const planned: PlannedDelivery[] = [];
  for (const item of delivery.items) {
    if (planned.some((p) => p.deliveryId === item.deliveryId)) continue;
    const shard = await deliveryShard(source.dedupeKey, item.deliveryId, delivery.bodyDigest);
    const commit = commitOf(source.kind, item.event, item.payload, source.name);
    const tasks = await ruleTasks(c.env, source, shard, { ...item, commit });
    planned.push({ deliveryId: item.deliveryId, shard, tasks, bodyDigest: delivery.bodyDigest });
  }
  const outcomes = await Promise.all(planned.map((p) => persist(c.env, c.executionCtx, source.dedupeKey, p)));
  const tasks = outcomes.flatMap((o) => o.taskIds);
  const duplicate = tasks.length > 0 && outcomes.every((o) => o.duplicate);
  console.log(
    JSON.stringify({
      level: "info",
      msg: "webhook delivery",
      requestId: requestIdOf(c),
      source: sourceRef(source.id),
      deliveryId: delivery.deliveryId,
      tasks,
      duplicate,
    }),
  );

  if (source.kind === "salesforce") return c.body(SOAP_ACK, 200, { "content-type": "text/xml; charset=utf-8" });
  if (duplicate) return c.json({ deliveryId: delivery.deliveryId, duplicate: true as const, tasks }, 200);
  return c.json({ deliveryId: delivery.deliveryId, tasks }, tasks.length > 0 ? 202 : 200);
}

/** SHA-256 of the raw body, hex: what GitHub's signature covers. */
async function bodyDigest(body: Uint8Array): Promise<string> {
  const digest = new Uint8Array(await crypto.subtle.digest("SHA-256", body));
  return [...digest].map((b) => b.toString(16).padStart(2, "0")).join("");
}

interface PlannedDelivery {
  deliveryId: string;
  /** The ingest shard that records this delivery: the same delivery always lands on the same one. */
  shard: number;
  tasks: NewTask[];
  /** GitHub: the body's SHA-256, claimed with the delivery (a replay under another id is a duplicate). */
  bodyDigest?: string;
}

/**
 * Makes a delivery's tasks durable in its ingest shard (batched with what else this isolate is
 * ingesting), whose record of the delivery id is the re-delivery check. A delivery no rule maps
 * makes nothing and needs no record.
 */
async function persist(
  env: Env,
  ctx: Pick<ExecutionContext, "waitUntil">,
  dedupeKey: string,
  delivery: PlannedDelivery,
): Promise<{ duplicate: boolean; taskIds: string[] }> {
  if (!delivery.tasks.length) return { duplicate: false, taskIds: [] };
  // The shard's record of a delivery is keyed by the source's dedupe key (its `sourceId` field).
  const { deliveryId, tasks, bodyDigest } = delivery;
  return ingest(env, ctx, delivery.shard, { sourceId: dedupeKey, deliveryId, tasks, ...(bodyDigest ? { bodyDigest } : {}) });
}
