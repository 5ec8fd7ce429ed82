// Outbound notifications (issue 14; docs/API.md "Notifications"): endpoints an owner PUTs, the
// Standard Webhooks deliveries the edge sends them, and the commit a task reports its status to.
import { z } from "@hono/zod-openapi";

/** Every event an endpoint can subscribe to; `task.*` and `*` are patterns over them. */
export const NOTIFICATION_EVENTS = ["task.succeeded", "task.failed", "task.canceled", "endpoint.disabled"] as const;
export type NotificationEvent = (typeof NOTIFICATION_EVENTS)[number];
const PATTERNS = ["task.*", "endpoint.*", "*"] as const;

/** True when `event` is one of `subscribed` (an exact event, a `prefix.*` pattern or `*`). */
export function subscribes(subscribed: readonly string[], event: string): boolean {
  return subscribed.some((s) => s === "*" || s === event || (s.endsWith(".*") && event.startsWith(s.slice(0, -1))));
}

export const NotificationEndpointName = z
  .string()
  .min(1)
  .max(100)
  .regex(/^[A-Za-z0-9][A-Za-z0-9._-]*$/, "letters, digits, '.', '_' or '-'")
  .openapi("NotificationEndpointName");

export const PutNotificationEndpointBody = z
  .object({
    url: z.string().min(1).max(2000).openapi({
      description: "https only; no private, loopback, link-local or metadata address (loopback only with SFP_ALLOW_LOOPBACK_ENDPOINTS)",
    }),
    events: z
      .array(z.enum([...NOTIFICATION_EVENTS, ...PATTERNS]))
      .min(1)
      .max(20)
      .openapi({ description: "events to send: task.succeeded, task.failed, task.canceled, endpoint.disabled; task.*, endpoint.* or *" }),
    enabled: z.boolean().optional().openapi({ description: "default true; true again re-enables an endpoint the edge disabled" }),
  })
  .strict()
  .openapi("PutNotificationEndpointBody");
export type PutNotificationEndpointBody = z.infer<typeof PutNotificationEndpointBody>;

export const NotificationEndpoint = z
  .object({
    name: z.string(),
    url: z.string(),
    events: z.array(z.string()),
    enabled: z.boolean(),
    disabledReason: z.string().nullable().openapi({ description: "why the edge disabled it (410, or a whole retry schedule failed); null otherwise" }),
    secretRotatedAt: z.string().nullable(),
    createdAt: z.string(),
    updatedAt: z.string(),
  })
  .openapi("NotificationEndpoint");
export type NotificationEndpoint = z.infer<typeof NotificationEndpoint>;

/** PUT and rotate answers; `secret` (whsec_…) only when one was just made: shown once. */
export const NotificationEndpointAnswer = z
  .object({ endpoint: NotificationEndpoint, secret: z.string().optional().openapi({ description: "whsec_…, shown once" }) })
  .openapi("NotificationEndpointAnswer");
export type NotificationEndpointAnswer = z.infer<typeof NotificationEndpointAnswer>;
export const NotificationEndpointList = z.object({ endpoints: z.array(NotificationEndpoint) }).openapi("NotificationEndpointList");

export const DELIVERY_STATUSES = ["pending", "succeeded", "failed"] as const;
export const NotificationDelivery = z
  .object({
    id: z.string().openapi({ description: "the webhook-id header: the same for every attempt and redelivery" }),
    event: z.string(),
    taskId: z.string().nullable(),
    status: z.enum(DELIVERY_STATUSES),
    attempts: z.number().int(),
    lastResponseCode: z.number().int().nullable().openapi({ description: "HTTP status of the last attempt; null before one, or when it got no answer" }),
    lastAttemptAt: z.string().nullable(),
    nextAttemptAt: z.string().nullable(),
    createdAt: z.string(),
  })
  .openapi("NotificationDelivery");
export type NotificationDelivery = z.infer<typeof NotificationDelivery>;
export const NotificationDeliveryAnswer = z.object({ delivery: NotificationDelivery }).openapi("NotificationDeliveryAnswer");
export const NotificationDeliveryList = z.object({ deliveries: z.array(NotificationDelivery) }).openapi("NotificationDeliveryList");

export const COMMIT_PROVIDERS = ["github", "gitlab"] as const;
export type CommitProvider = (typeof COMMIT_PROVIDERS)[number];

/** The commit a task reports its status to (webhook tasks: taken from the delivery). */
export const CommitRef = z
  .object({
    provider: z.enum(COMMIT_PROVIDERS),
    repo: z
      .string()
      .min(1)
      .max(300)
      .regex(/^[A-Za-z0-9_.-]+(\/[A-Za-z0-9_.-]+)*$/, "owner/name (GitHub), or a project id or path (GitLab)"),
    sha: z.string().regex(/^[0-9a-f]{40}$/, "a full 40-character commit sha"),
    source: z.string().min(1).max(100).optional().openapi({
      description: "the webhook source whose statusToken reports it; default: the one source of that provider with a status token",
    }),
  })
  .strict()
  .openapi("CommitRef");
export type CommitRef = z.infer<typeof CommitRef>;

/** What the owner API shows of a source's commit statuses: never the token. */
export const SourceStatusReport = z
  .object({
    tokenSet: z.boolean(),
    apiUrl: z.string().nullable(),
    error: z
      .object({ code: z.string(), message: z.string(), at: z.string() })
      .nullable()
      .openapi({ description: "why the last commit status was refused (a revoked token shows here); cleared by a new statusToken" }),
  })
  .openapi("SourceStatusReport");
export type SourceStatusReport = z.infer<typeof SourceStatusReport>;

/** The local-development setting (a Worker variable) that admits loopback endpoint and API URLs. */
export const ALLOW_LOOPBACK_SETTING = "SFP_ALLOW_LOOPBACK_ENDPOINTS";
