// `salesforce-event` sources (issue 15): Platform Events reach them from the runner that holds the
// subscription's lease (edge/routes/event-subscriptions-runner.ts), never at the hook URL. Each event
// is a delivery with the id `<org>/<channel>/<replayId>`, so the ingest shards' delivery record makes
// a re-sent event (a new holder replaying an overlap) answer the first copy's tasks.
import type { NewTask } from "../../common/messages.ts";
import { publicSourceId } from "../../common/source-ids.ts";
import { deliveryShard, mintWebhookTaskId } from "../../common/task-ids.ts";
import type { Env } from "../../actors/env.ts";
import { ApiError, type TaskSource } from "../../protocol/index.ts";
import type { PlatformEventDelivery } from "../../protocol/events.ts";
import type { WebhookSourceRecord } from "../../protocol/webhook.ts";
import { ingest } from "../ingest.ts";
import { newTask } from "../new-task.ts";
import { renderPayload, ruleMatches } from "./rules.ts";
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
  const tasks: Promise<NewTask>[] = [];
  for (const [index, rule] of source.rules.entries()) {
    if (!ruleMatches(rule, event.channel, event)) continue;
    const { type, org, priority, pool, labels } = rule.task;
    const payload = renderPayload(rule.task.payload ?? {}, event);
    const taskSource: TaskSource = {
      kind: "webhook",
      sourceId: publicSourceId(source.id),
      sourceName: source.name,
      deliveryId,
      event: event.channel,
      rule: index,
    };
    tasks.push(
      mintWebhookTaskId(env.TOKEN_SIGNING_KEY, shard, source.dedupeKey, deliveryId, index).then((id) =>
        newTask(env, id, source.project, { type, org, priority, pool, labels, payload }, taskSource, { protectedOrg: rule.task.protectedOrg }),
      ),
    );
  }
  const made = await Promise.all(tasks);
  if (!made.length) return { duplicate: false, taskIds: [] };
  return ingest(env, ctx, shard, { sourceId: source.dedupeKey, deliveryId, tasks: made });
}
