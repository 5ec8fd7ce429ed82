// What a TaskActor tells other actors, through its durable outbox (outbox.ts): the project index of a
// status change, the dispatcher of a queued attempt, a cancel or a lease that ended, the ingest shard
// that the task has been taken over, the org's lock of a request or a release. One send function per kind.
import type { QueueEntry } from "../common/messages.ts";
import type { Task } from "../protocol/index.ts";
import { dispatcherStub, ingestStub, orgStub, projectStub, type Env } from "./env.ts";
import type { LockRequest } from "./org-line.ts";
import type { OutboxMessage, Senders } from "./outbox.ts";

/** Tells the task's dispatcher about one of its leases (ended, or asked to cancel). */
export interface LeaseNotice {
  project: string;
  pool: string;
  taskId: string;
  epoch: number;
}

export interface TaskMessageBodies {
  project: { task: Task };
  enqueue: QueueEntry;
  dequeue: { project: string; pool: string; taskId: string };
  materialized: { shard: number; taskId: string };
  release: LeaseNotice;
  cancel: LeaseNotice;
  lock: LockRequest;
  unlock: { project: string; org: string; taskId: string };
}

export type TaskMessage = OutboxMessage<TaskMessageBodies>;

export function taskSenders(env: Env): Senders<TaskMessageBodies> {
  return {
    project: (m) => projectStub(env, m.task.project).taskChanged(m.task),
    enqueue: (m) => dispatcherStub(env, m.project, m.pool).enqueue(m),
    dequeue: (m) => dispatcherStub(env, m.project, m.pool).remove(m.taskId),
    materialized: (m) => ingestStub(env, m.shard).materialized(m.taskId),
    release: (m) => dispatcherStub(env, m.project, m.pool).released(m.taskId, m.epoch),
    cancel: (m) => dispatcherStub(env, m.project, m.pool).cancelRequested(m.taskId, m.epoch),
    lock: (m) => orgStub(env, m.project, m.org).request(m),
    unlock: (m) => orgStub(env, m.project, m.org).release(m.taskId),
  };
}

export function leaseNotice(kind: "release" | "cancel", task: Task, epoch: number): TaskMessage {
  return { kind, body: { project: task.project, pool: task.pool, taskId: task.id, epoch } };
}
