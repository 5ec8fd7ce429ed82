// `salesforce-event` sources (issue 15): Platform Events reach them from the runner that holds the
// subscription's lease (edge/routes/event-subscriptions-runner.ts), never at the hook URL. Each event
// is a delivery with the id `<org>/<channel>/<replayId>`, so the ingest shards' delivery record makes
// a re-sent event (a new holder replaying an overlap) answer the first copy's tasks.
import { deliveryShard } from "../../common/task-ids.ts";
import type { Env } from "../../actors/env.ts";
import { ApiError } from "../../protocol/index.ts";
import type { PlatformEventDelivery } from "../../protocol/events.ts";
import type { WebhookSourceRecord } from "../../protocol/webhook.ts";
import { ingest } from "../ingest.ts";
import { ruleTasks } from "./rule-tasks.ts";
import type { KindHandler } from "./verify.ts";

export const salesforceEvent: KindHandler = {
  mediaTypes: ["application/json"],
  async prepare() {
    return async () => {
      throw new ApiError("forbidden", 'a salesforce-event source takes Platform Events from runners only (docs/API.md "Platform Events")');
    };
  },
};

export function eventDeliveryId(event: Pick<PlatformEventDelivery, "org" | "channel" | "replayId">): string {
  return `${event.org}/${event.channel}/${event.replayId}`;
}

/** Makes the tasks the source's rules map the event to, durably and once: `duplicate` for an event seen before. */
export async function ingestPlatformEvent(
  env: Env,
  ctx: Pick<ExecutionContext, "waitUntil">,
  source: WebhookSourceRecord,
  event: PlatformEventDelivery,
): Promise<{ duplicate: boolean; taskIds: string[] }> {
  const deliveryId = eventDeliveryId(event);
  const shard = await deliveryShard(source.dedupeKey, deliveryId);
  const made = await ruleTasks(env, source, shard, { deliveryId, event: event.channel, payload: event });
  if (!made.length) return { duplicate: false, taskIds: [] };
  return ingest(env, ctx, shard, { sourceId: source.dedupeKey, deliveryId, tasks: made });
}
