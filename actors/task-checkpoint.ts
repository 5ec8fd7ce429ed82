// A task's checkpoint (protocol/checkpoint.ts): the runner's checkpoint event becomes a task event of
// the attempt that sent it, and the task keeps the last one, so that the next accept hands it over.
import type { CheckpointFields, RunnerEvent, Task } from "../protocol/index.ts";

/** A checkpoint event before it has its seq and time. */
export type CheckpointDraft = { type: "checkpoint"; attempt: number } & CheckpointFields;

export function checkpointDraft(event: Extract<RunnerEvent, { type: "checkpoint" }>, attempt: number): CheckpointDraft {
  return { type: "checkpoint", operation: event.operation, ...(event.salesforceId ? { salesforceId: event.salesforceId } : {}), attempt };
}

/** The task's checkpoint after `draft`, committed at `at`. */
export function checkpointOf(draft: CheckpointDraft, at: string): NonNullable<Task["checkpoint"]> {
  const { operation, salesforceId, attempt } = draft;
  return { operation, ...(salesforceId ? { salesforceId } : {}), attempt, at };
}
