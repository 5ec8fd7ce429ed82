// The tasks one delivery item makes: one per matching rule of its source, each with the id minted
// from (shard, source's dedupe key, delivery id, rule index). Hook deliveries (routes/webhooks.ts)
// and Platform Events (salesforce-event.ts) share it, so both name and shape their tasks alike.
import type { NewTask } from "../../common/messages.ts";
import { publicSourceId } from "../../common/source-ids.ts";
import { mintWebhookTaskId } from "../../common/task-ids.ts";
import type { Env } from "../../actors/env.ts";
import type { TaskSource } from "../../protocol/index.ts";
import type { CommitRef } from "../../protocol/notify.ts";
import type { WebhookRule } from "../../protocol/webhook.ts";
import { newTask } from "../new-task.ts";
import { renderPayload, ruleMatches } from "./rules.ts";

/** What the rules see of an item: its event name (rules' `on`) and the object `if` and templates read. */
export interface RuleInput {
  deliveryId: string;
  event: string;
  payload: unknown;
  commit?: CommitRef;
}

type RuleSource = { id: string; name: string; project: string; dedupeKey: string; rules: WebhookRule[] };

export function ruleTasks(env: Env, source: RuleSource, shard: number, item: RuleInput): Promise<NewTask[]> {
  const tasks: Promise<NewTask>[] = [];
  for (const [index, rule] of source.rules.entries()) {
    if (!ruleMatches(rule, item.event, item.payload)) continue;
    const { type, org, priority, pool, labels } = rule.task;
    const payload = renderPayload(rule.task.payload ?? {}, item.payload);
    // Every reader of the task sees it: the source's name and reference, never its id (a credential).
    const taskSource: TaskSource = {
      kind: "webhook",
      sourceId: publicSourceId(source.id),
      sourceName: source.name,
      deliveryId: item.deliveryId,
      event: item.event,
      rule: index,
    };
    tasks.push(
      mintWebhookTaskId(env.TOKEN_SIGNING_KEY, shard, source.dedupeKey, item.deliveryId, index).then((id) =>
        newTask(env, id, source.project, { type, org, priority, pool, labels, payload, commit: item.commit }, taskSource, {
          protectedOrg: rule.task.protectedOrg,
        }),
      ),
    );
  }
  return Promise.all(tasks);
}
