// Which task metrics a change to the project's index makes (issue 16): a task the index did not
// hold was created; one whose summary reached a final status finished. The index writes each
// version once, so neither is counted twice.
import { isTerminal, type TaskSummary } from "../protocol/index.ts";
import type { Env } from "./env.ts";
import { count } from "./metrics.ts";

export function countTaskChange(env: Pick<Env, "METRICS" | "METRICS_AE">, summary: TaskSummary, known: boolean): Promise<void>[] {
  const counted: Promise<void>[] = [];
  if (!known) counted.push(count(env, "sfp_tasks_created_total", { type: summary.type }));
  if (isTerminal(summary.status)) counted.push(count(env, "sfp_tasks_finished_total", { type: summary.type, outcome: summary.status }));
  return counted;
}
