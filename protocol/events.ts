// Salesforce Platform Events in (issue 15; docs/API.md "Platform Events"): subscriptions the owner
// configures, the leases that give each one to a single runner of the org's pool, and the events that
// runner forwards. The replay id travels as a number, as Salesforce's CometD sends it.
import { z } from "@hono/zod-openapi";
import { JsonObject, OrgAlias } from "./task.ts";
import { WebhookSourceName } from "./webhook.ts";

export const EventSubscriptionName = WebhookSourceName.openapi("EventSubscriptionName");

/** CometD channels: platform events, change data capture, PushTopics. */
export const EventChannel = z
  .string()
  .min(2)
  .max(100)
  .regex(/^\/(event|data|topic)\/[A-Za-z][A-Za-z0-9_]{0,79}$/, "a channel such as /event/Deploy_Request__e or /data/ChangeEvents")
  .openapi("EventChannel");

/** A Salesforce replay id: positive, increasing per channel. */
export const ReplayId = z.number().int().min(1).max(Number.MAX_SAFE_INTEGER);

export const PutEventSubscriptionBody = z
  .object({
    org: OrgAlias.openapi({ description: "the org alias (PUT /v1/projects/{project}/orgs/{alias}); its pool's runners subscribe" }),
    channel: EventChannel,
    source: WebhookSourceName.openapi({ description: "a webhook source of kind salesforce-event whose rules map each event to tasks" }),
    enabled: z.boolean().default(true),
  })
  .strict()
  .openapi("PutEventSubscriptionBody");
export type PutEventSubscriptionBody = z.infer<typeof PutEventSubscriptionBody>;

export const EventSubscription = z
  .object({
    name: z.string(),
    org: z.string(),
    channel: z.string(),
    source: z.string(),
    enabled: z.boolean(),
    replayId: z.number().int().nullable().openapi({ description: "the last event forwarded; the next subscriber resumes after it (null: new events only)" }),
    holder: z
      .object({ runnerId: z.string(), leaseEpoch: z.number().int(), expiresAt: z.string() })
      .nullable()
      .openapi({ description: "the runner whose lease is live, if one is" }),
    createdAt: z.string(),
    updatedAt: z.string(),
  })
  .openapi("EventSubscription");
export type EventSubscription = z.infer<typeof EventSubscription>;
export const EventSubscriptionAnswer = z.object({ subscription: EventSubscription }).openapi("EventSubscriptionAnswer");
export const EventSubscriptionList = z.object({ subscriptions: z.array(EventSubscription) }).openapi("EventSubscriptionList");

/** A runner's ask: renew what it holds (with the last replay id it forwarded) and take what is free. */
export const SubscriptionLeaseBody = z
  .object({
    held: z
      .array(z.object({ name: EventSubscriptionName, leaseEpoch: z.number().int().min(1), replayId: ReplayId.optional() }).strict())
      .max(100)
      .default([]),
  })
  .strict()
  .openapi("SubscriptionLeaseBody");
export type SubscriptionLeaseBody = z.infer<typeof SubscriptionLeaseBody>;

export const SubscriptionLease = z
  .object({
    name: z.string(),
    org: z.string(),
    channel: z.string(),
    leaseEpoch: z.number().int(),
    replayId: z.number().int().nullable().openapi({ description: "subscribe from after this id (null: new events only, replay -1)" }),
    expiresAt: z.string(),
  })
  .openapi("SubscriptionLease");
export type SubscriptionLease = z.infer<typeof SubscriptionLease>;
export const SubscriptionLeaseAnswer = z
  .object({
    leases: z.array(SubscriptionLease).openapi({ description: "every lease the runner holds now; one it held and is missing here is lost: stop it" }),
    renewSeconds: z.number().int().openapi({ description: "ask again within this long" }),
    leaseSeconds: z.number().int(),
  })
  .openapi("SubscriptionLeaseAnswer");
export type SubscriptionLeaseAnswer = z.infer<typeof SubscriptionLeaseAnswer>;

/** One event as the CometD message's `data` holds it: `event.replayId`, the fields in `payload`. */
export const PlatformEvent = z
  .object({
    replayId: ReplayId,
    createdDate: z.string().max(40).optional(),
    payload: JsonObject.openapi({ description: "the event's fields (the CometD message's data.payload)" }),
  })
  .strict()
  .openapi("PlatformEvent");
export type PlatformEvent = z.infer<typeof PlatformEvent>;

export const MAX_EVENTS_PER_DELIVERY = 50;
export const PlatformEventsBody = z
  .object({ leaseEpoch: z.number().int().min(1), events: z.array(PlatformEvent).min(1).max(MAX_EVENTS_PER_DELIVERY) })
  .strict()
  .openapi("PlatformEventsBody");
export type PlatformEventsBody = z.infer<typeof PlatformEventsBody>;

export const PlatformEventsAnswer = z
  .object({
    replayId: z.number().int().openapi({ description: "the replay id the subscription now resumes after" }),
    tasks: z.array(z.string()),
    duplicates: z.number().int().openapi({ description: "events seen before (their tasks are in `tasks` once more)" }),
  })
  .openapi("PlatformEventsAnswer");
export type PlatformEventsAnswer = z.infer<typeof PlatformEventsAnswer>;

/** What rules see of an event: `on` matches the channel; `if` and templates read these fields. */
export interface PlatformEventDelivery {
  org: string;
  channel: string;
  subscription: string;
  replayId: number;
  createdDate: string | null;
  payload: Record<string, unknown>;
}
