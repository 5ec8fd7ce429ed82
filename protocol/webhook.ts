// Webhook sources and deliveries (docs/API.md "Webhooks"): what an owner PUTs, what the edge
// answers, and the source-id format that lets the edge find a source's project without a lookup.
import { z } from "@hono/zod-openapi";
import { SourceStatusReport } from "./notify.ts";
import { JsonObject, Label, OrgAlias, PoolName, Priority, TaskType } from "./task.ts";

// `salesforce-event` sources take no deliveries at their URL: runners forward Platform Events to them
// (protocol/events.ts), and their rules map each event to tasks.
export const WEBHOOK_KINDS = ["github", "gitlab", "standard", "salesforce", "salesforce-event"] as const;
export const WebhookKind = z.enum(WEBHOOK_KINDS).openapi("WebhookKind");
export type WebhookKind = z.infer<typeof WebhookKind>;

export { MAX_WEBHOOK_BODY_BYTES } from "./limits.ts";
/** Standard Webhooks: a timestamp further than this from the edge's clock is refused (replay guard). */
export const WEBHOOK_TOLERANCE_SECONDS = 5 * 60;

/** What a rule's task does when its org is protected (issue 13). */
export const PROTECTED_ORG_MODES = ["approve", "validate-only"] as const;
export type ProtectedOrgMode = (typeof PROTECTED_ORG_MODES)[number];

// `a.b.0.c`: segments of letters, digits, `_`, `-`, `$`; no empty segment, bounded depth.
const DotPath = z
  .string()
  .min(1)
  .max(200)
  .regex(/^[A-Za-z0-9_$-]+(\.[A-Za-z0-9_$-]+){0,15}$/, "a dot path such as pull_request.base.ref");

export const WebhookRule = z
  .object({
    on: z
      .string()
      .min(1)
      .max(200)
      .openapi({ description: "event name (push, pull_request.opened, …); `*` globs; `pull_request` also matches every pull_request.<action>" }),
    if: z
      .record(DotPath, z.string().max(500))
      .refine((r) => Object.keys(r).length <= 20, "at most 20 conditions")
      .optional()
      .openapi({ description: "every dot path must hold this value; `*` in a value globs" }),
    task: z
      .object({
        type: TaskType,
        org: OrgAlias,
        priority: Priority.optional(),
        pool: PoolName.optional(),
        labels: z.array(Label).max(20).optional(),
        payload: JsonObject.optional().openapi({
          description:
            "strings may hold {{dot.path}} taken from the delivery; in a string that starts with scheme:// (a URL) each value is URL-encoded, so it cannot change the host, path or query",
        }),
        protectedOrg: z.enum(PROTECTED_ORG_MODES).optional().openapi({
          description:
            "for a protected org: `approve` (default) makes the task and it awaits approval; `validate-only` makes a deploy a validate (only with type deploy or validate)",
        }),
      })
      .strict()
      .refine((t) => t.protectedOrg !== "validate-only" || t.type === "deploy" || t.type === "validate", {
        message: "validate-only applies to deploy and validate rules",
        path: ["protectedOrg"],
      }),
  })
  .strict()
  .openapi("WebhookRule");
export type WebhookRule = z.infer<typeof WebhookRule>;

const SALESFORCE_ORG_ID = /^00D[A-Za-z0-9]{12}([A-Za-z0-9]{3})?$/;
// Standard Webhooks keys are `whsec_` + base64 of 24–64 random bytes.
const STANDARD_SECRET = /^whsec_[A-Za-z0-9+/]{32,88}={0,2}$/;

export const PutWebhookSourceBody = z
  .object({
    kind: WebhookKind,
    secret: z.string().min(16).max(256).optional().openapi({
      description: "github/gitlab: the shared secret (≥ 16 characters); standard: whsec_<base64>; salesforce, salesforce-event: none",
    }),
    orgId: z.string().regex(SALESFORCE_ORG_ID, "a Salesforce org id (00D…)").optional(),
    rules: z.array(WebhookRule).max(50),
    statusToken: z.string().min(1).max(1000).nullable().optional().openapi({
      description: "github/gitlab: a token that may post commit statuses; write-only, stored encrypted; left out keeps the stored one, null removes it",
    }),
    statusApiUrl: z.string().min(1).max(500).optional().openapi({
      description: "the API base for statuses: default https://api.github.com or https://gitlab.com/api/v4 (GitHub Enterprise: https://<host>/api/v3)",
    }),
  })
  .strict()
  .superRefine((body, ctx) => {
    if (body.kind === "salesforce") {
      if (body.orgId === undefined) ctx.addIssue({ code: "custom", path: ["orgId"], message: "a salesforce source needs orgId" });
      if (body.secret !== undefined)
        ctx.addIssue({ code: "custom", path: ["secret"], message: "salesforce sources are authenticated by orgId and the source id; leave secret out" });
      return;
    }
    if (body.kind === "salesforce-event") {
      if (body.secret !== undefined)
        ctx.addIssue({ code: "custom", path: ["secret"], message: "salesforce-event sources take events from runners; leave secret out" });
      return;
    }
    if (body.secret === undefined) ctx.addIssue({ code: "custom", path: ["secret"], message: `a ${body.kind} source needs a secret` });
    else if (body.kind === "standard" && !STANDARD_SECRET.test(body.secret))
      ctx.addIssue({ code: "custom", path: ["secret"], message: "a standard source's secret is whsec_<base64 of 24–64 bytes>" });
  })
  .openapi("PutWebhookSourceBody");
export type PutWebhookSourceBody = z.infer<typeof PutWebhookSourceBody>;

export const WebhookSourceName = z
  .string()
  .min(1)
  .max(100)
  .regex(/^[A-Za-z0-9][A-Za-z0-9._-]*$/, "letters, digits, '.', '_' or '-'")
  .openapi("WebhookSourceName");

/**
 * A source as the owner API shows it: never the secret. Its id (and so its URL) is itself a
 * credential — for a salesforce source the only one — so only owners see it; tasks show a reference.
 */
export const WebhookSource = z
  .object({
    id: z.string().openapi({ description: "a credential like the URL it makes; rotate both with POST …/webhook-sources/{name}/rotate" }),
    name: z.string(),
    url: z.string(),
    kind: WebhookKind,
    orgId: z.string().nullable(),
    rules: z.array(WebhookRule),
    createdAt: z.string(),
    updatedAt: z.string(),
    commitStatus: SourceStatusReport.optional().openapi({
      description: "github/gitlab: the commit-status token (set or not, never shown) and its last refusal",
    }),
  })
  .openapi("WebhookSource");
export type WebhookSource = z.infer<typeof WebhookSource>;

export const WebhookSourceAnswer = z.object({ source: WebhookSource }).openapi("WebhookSourceAnswer");
export const WebhookSourceList = z.object({ sources: z.array(WebhookSource) }).openapi("WebhookSourceList");

/** 202 (tasks made), or 200 for a re-delivery (`duplicate`), a ping, or no matching rule. */
export const DeliveryAnswer = z.object({ deliveryId: z.string(), tasks: z.array(z.string()), duplicate: z.literal(true).optional() }).openapi("DeliveryAnswer");
export type DeliveryAnswer = z.infer<typeof DeliveryAnswer>;

/**
 * What the ProjectActor hands the edge so it can verify deliveries. It holds the secret: it crosses
 * only the actor → edge RPC and lives in isolate memory, and is never serialized to a client.
 */
export type WebhookSourceRecord = WebhookSource & {
  project: string;
  secret: string | null;
  /**
   * What re-deliveries are recognised by and webhook task ids are derived from: the source's first
   * id, kept when its URL is rotated so a re-delivery after a rotation still makes no second task.
   * It never leaves the edge and the actors.
   */
  dedupeKey: string;
};

// Source ids: `whs_` + the project id's 26-character body + 13 random characters + a 13-character
// tag (an HMAC of the rest under the edge's signing key; common/source-ids.ts). The edge reads
// the project straight from the id (no global lookup actor), refuses forged ids without touching any
// actor, and the random part plus the tag keep the URL unguessable (130 bits to a guesser without the
// key), which is all the authenticity a Salesforce outbound message has besides its orgId.
export const SOURCE_ID = /^whs_([0-9A-HJKMNP-TV-Z]{26})([0-9A-HJKMNP-TV-Z]{13})([0-9A-HJKMNP-TV-Z]{13})$/;

/** The project a source id names, or undefined when the id does not have our shape. */
export function projectOfSource(sourceId: string): string | undefined {
  const m = SOURCE_ID.exec(sourceId);
  return m ? `prj_${m[1]}` : undefined;
}

export function hookUrl(sourceId: string): string {
  return `/v1/hooks/${sourceId}`;
}
