// A webhook's task is born in an ingest shard (actors/ingest-actor.ts), which durably holds, queues
// and indexes it; the first time anyone touches the task's actor, it takes the record over, so a
// delivery costs no task-actor commit until somebody reads or runs the task.
import { ingestShardOf, type Task } from "../protocol/index.ts";
import { ingestStub, type Env } from "./env.ts";
import type { EventDraft } from "./task-events.ts";
import type { TaskOrgGate } from "./task-org-gate.ts";
import type { TaskMessage } from "./task-outbox.ts";

/** The first commit of a task taken over from its shard: the record, its first events and messages. */
export interface TakenOver {
  born: Task;
  drafts: EventDraft[];
  outbox: TaskMessage[];
}

/** The shard's record of task `id`, as the actor's first commit; null when no shard holds it (an API task, or already taken). */
export async function takeOver(env: Env, id: string | undefined, gate: TaskOrgGate): Promise<TakenOver | null> {
  const shard = id === undefined ? null : ingestShardOf(id);
  if (id === undefined || shard === null) return null;
  const record = await ingestStub(env, shard).peek(id);
  if (!record) return null;
  const born: Task = JSON.parse(record.body);
  // The shard already asked the org's lock for it (and may know its place): the gate only adopts that.
  const lockMessages = record.lockAsked ? gate.adopted() : gate.materialized(born);
  const waiting: EventDraft[] = born.waitingFor ? [{ type: "lock", state: "waiting", ...born.waitingFor }] : [];
  return {
    born,
    drafts: [{ type: "status", status: "queued", attempt: born.attempt }, ...waiting],
    outbox: [{ kind: "materialized", body: { shard, taskId: id } }, ...lockMessages],
  };
}
