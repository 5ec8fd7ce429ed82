// What the actors and the edge hand each other over RPC, beyond the wire contract's own types.
import type { Accepted, Task } from "../protocol/index.ts";

/** What the edge (or the webhook ingest) hands over to create a task; validated before it gets here. */
export type NewTask = Omit<Task, "status" | "attempt" | "version" | "createdAt" | "updatedAt" | "startedAt" | "finishedAt" | "progress" | "result" | "error">;

/** A queue entry as the dispatcher needs it. */
export interface QueueEntry {
  taskId: string;
  project: string;
  pool: string;
  priority: Task["priority"];
  labels: string[];
  createdAt: string;
  attempt: number;
}

/** The queue entry of a task's current attempt. */
export function queueEntry(task: Task): QueueEntry {
  return {
    taskId: task.id,
    project: task.project,
    pool: task.pool,
    priority: task.priority,
    labels: task.labels,
    createdAt: task.createdAt,
    attempt: task.attempt,
  };
}

/** The task's answer to an accept: the lease, or a refusal the dispatcher can act on. */
export type AcceptAnswer = { accepted: Accepted; refused?: undefined } | { accepted?: undefined; refused: AcceptRefusal };
export interface AcceptRefusal {
  code: "gone" | "conflict" | "already_finished" | "assignment_expired";
  message: string;
  /** Whether the task still wants a runner (it is queued), so the dispatcher keeps it in the queue. */
  wanted: boolean;
  attempt: number;
  /** The task was never born: the entry came from the edge's early enqueue and its creation never arrived. */
  unborn?: true;
}
