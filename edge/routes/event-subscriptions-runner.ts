// Platform Event subscriptions, the runners' side (docs/API.md "Platform Events"): a runner asks for
// subscription leases (renewing those it holds, reporting the last replay id it forwarded) and
// forwards each event it receives; the edge maps it to tasks with its source's rules, once per
// (org, channel, replayId), and stores the replay id the next subscriber resumes after.
import { createRoute, z } from "@hono/zod-openapi";
import { EventSubscriptionName, PlatformEventsAnswer, PlatformEventsBody, SubscriptionLeaseAnswer, SubscriptionLeaseBody } from "../../protocol/events.ts";
import { LEASE_RENEWALS_PER_LEASE } from "../../protocol/index.ts";
import { requireRunner } from "../auth/middleware.ts";
import { timings } from "../../common/timings.ts";
import { projectStub } from "../../actors/env.ts";
import type { EventSubscription } from "../../protocol/events.ts";
import type { WebhookSourceRecord } from "../../protocol/webhook.ts";
import { requestIdOf } from "../http.ts";
import { bearerAuth, errors, json, jsonBody, router } from "../openapi.ts";
import { ingestPlatformEvent } from "../webhooks/salesforce-event.ts";

export const eventSubscriptionsRunner = router();

eventSubscriptionsRunner.openapi(
  createRoute({
    method: "post",
    path: "/v1/runners/subscriptions/lease",
    summary: "Renew and take Platform Event subscription leases (runner): one live subscriber per subscription across the pool",
    description:
      "`held` renews the leases the runner has, each with the last replay id it forwarded. The answer lists every lease it holds now, free ones of its pool included; a lease it held that is missing is lost (stop subscribing). A lease not renewed within leaseSeconds lapses and the next runner to ask takes it.",
    security: bearerAuth,
    request: jsonBody(SubscriptionLeaseBody),
    responses: { 200: json(SubscriptionLeaseAnswer, "the runner's leases"), ...errors(400, 401, 403, 415, 429) },
  }),
  async (c) => {
    const runner = await requireRunner(c);
    const { leaseSeconds } = timings(c.env);
    const leases = await projectStub(c.env, runner.project).leaseEventSubscriptions(runner.runnerId, runner.pool, c.req.valid("json"), leaseSeconds);
    return c.json({ leases, leaseSeconds, renewSeconds: Math.max(1, Math.floor(leaseSeconds / LEASE_RENEWALS_PER_LEASE)) }, 200);
  },
);

eventSubscriptionsRunner.openapi(
  createRoute({
    method: "post",
    path: "/v1/runners/subscriptions/{name}/events",
    summary: "Forward Platform Events of a held subscription (runner), in replay order; an event seen before makes no second task",
    description:
      "409 stale_lease when the runner does not hold the subscription at leaseEpoch (another runner took it over). The answer's replayId is stored once the events' tasks are durable.",
    security: bearerAuth,
    request: { params: z.object({ name: EventSubscriptionName }), ...jsonBody(PlatformEventsBody) },
    responses: { 200: json(PlatformEventsAnswer, "the tasks made (or made before, for a re-sent event)"), ...errors(400, 401, 403, 404, 409, 415, 429) },
  }),
  async (c) => {
    const runner = await requireRunner(c);
    const { name } = c.req.valid("param");
    const { leaseEpoch, events } = c.req.valid("json");
    const stub = projectStub(c.env, runner.project);
    const { subscription, source } = await deliveryTarget(stub, name, runner.runnerId, leaseEpoch);
    const tasks: string[] = [];
    let duplicates = 0;
    // In order, so that the stored replay id never passes an event whose tasks are not durable yet.
    for (const event of [...events].sort((a, b) => a.replayId - b.replayId)) {
      const outcome = await ingestPlatformEvent(c.env, c.executionCtx, source, {
        org: subscription.org,
        channel: subscription.channel,
        subscription: subscription.name,
        replayId: event.replayId,
        createdDate: event.createdDate ?? null,
        payload: event.payload,
      });
      tasks.push(...outcome.taskIds);
      if (outcome.duplicate) duplicates++;
    }
    const replayId = await stub.eventsForwarded(name, runner.runnerId, leaseEpoch, Math.max(...events.map((e) => e.replayId)));
    console.log(
      JSON.stringify({ level: "info", msg: "platform events", requestId: requestIdOf(c), subscription: name, events: events.length, tasks, duplicates }),
    );
    return c.json({ replayId, tasks, duplicates }, 200);
  },
);

// Rules hold free-form payloads (`unknown`), which RPC's typing cannot prove serializable; the
// actor's method is declared with exactly this type, so this only restores it (as webhooks/sources.ts).
function deliveryTarget(
  stub: ReturnType<typeof projectStub>,
  name: string,
  runnerId: string,
  epoch: number,
): Promise<{ subscription: EventSubscription; source: WebhookSourceRecord }> {
  return stub.eventDeliveryTarget(name, runnerId, epoch);
}
