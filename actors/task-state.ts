// The task's state machine in one table (docs/API.md "States and transitions"), and the one function that births a task.
// Every status change goes through `canMove`; the TaskActor never sets a status any other way.
import { needsOrgLock, type Task, type TaskStatus } from "../protocol/index.ts";
import { queueEntry, type NewTask, type QueueEntry } from "../common/messages.ts";

export const TRANSITIONS: Record<TaskStatus, readonly TaskStatus[]> = {
  // queued → running when a runner accepts; → canceled by a client; → failed when no runner could
  // ever take it (queue TTL).
  // → awaiting_approval when its org is protected (issue 13).
  queued: ["running", "canceled", "failed", "awaiting_approval"],
  // scheduled (issue 15: a future `runAt`) → queued when its actor's alarm comes; → canceled by a client.
  scheduled: ["queued", "canceled"],
  // awaiting_approval → queued when approved; → canceled when rejected or canceled; → failed when the
  // approval expired (approval_expired).
  awaiting_approval: ["queued", "canceled", "failed"],
  // running → queued when the lease lapses and attempts remain (attempt+1); → failed as "lost" after
  // maxAttempts; → canceling when a client cancels.
  running: ["succeeded", "failed", "canceling", "queued"],
  // canceling ends as the runner reports it, or canceled when the lease lapses.
  canceling: ["canceled", "succeeded", "failed"],
  succeeded: [],
  failed: [],
  canceled: [],
};

export function canMove(from: TaskStatus, to: TaskStatus): boolean {
  return TRANSITIONS[from].includes(to);
}

/**
 * A task as it is born — queued (scheduled when its `runAt` is still ahead), first attempt, version 1,
 * its first event that status at `createdAt` — whichever path makes it: the API's create, or a webhook
 * through an ingest shard (whose record the TaskActor later takes over as it is).
 */
export function bornTask(input: NewTask, at: string): Task {
  const scheduled = input.runAt !== undefined && Date.parse(input.runAt) > Date.parse(at);
  return { ...input, status: scheduled ? "scheduled" : "queued", attempt: 1, version: 1, createdAt: at, updatedAt: at };
}

/**
 * The queue entry a new task goes to its dispatcher with at birth, or null when it goes elsewhere
 * first (a future `runAt`: scheduled; a type that changes its org: the org's lock). The one decision,
 * asked by both the TaskActor's birth and the edge's early enqueue (edge/new-task.ts) with the same
 * born task, so the edge never queues a task its actor holds back, and its entry is exactly the
 * outbox's (the dispatcher's admission is idempotent by task and attempt).
 */
export function bornQueueEntry(task: Task): QueueEntry | null {
  return task.status === "queued" && task.attempt === 1 && !needsOrgLock(task.type) ? queueEntry(task) : null;
}
