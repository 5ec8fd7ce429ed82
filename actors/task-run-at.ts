// A task's `runAt` (issue 15): born `scheduled`, it waits for its own actor's alarm, which hands it to
// the queue or its org's lock exactly as a task created now is handed (task-org-gate.ts `born`).
import type { Task } from "../protocol/index.ts";
import type { Timers } from "./timers.ts";

export const RUN_AT_TIMER = "run-at";

/** Arms the timer of a task born `scheduled`; a task born queued has none. Called in the birth's commit. */
export function armRunAt(timers: Timers, task: Task): void {
  if (task.status === "scheduled" && task.runAt) timers.set(RUN_AT_TIMER, Date.parse(task.runAt));
}

/** Whether the run-at timer that came due should queue the task (a canceled one stays as it is). */
export function runAtDue(task: Task | null): task is Task {
  return task !== null && task.status === "scheduled";
}
