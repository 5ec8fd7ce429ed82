// Helpers for the org lock and approval tests: the org actor's line, a task's events, waiting on state.
import { env, runInDurableObject } from "cloudflare:test";
import { vi } from "vitest";
import type { Task, TaskEvent } from "../../protocol/index.ts";
import { api } from "./helpers.ts";
import { readTask } from "./runner-helpers.ts";

export function orgActor(project: string, org = "demo") {
  return env.ORG.get(env.ORG.idFromName(`${project}/${org}`));
}

/** The org's line: holders first, then waiters in order. */
export async function line(project: string, org = "demo"): Promise<{ taskId: string; holding: boolean }[]> {
  return (await orgActor(project, org).status()).line;
}

export async function events(token: string, taskId: string): Promise<TaskEvent[]> {
  const res = await api("GET", `/v1/tasks/${taskId}/events?limit=1000`, { token });
  if (res.status !== 200) throw new Error(`events: ${res.status} ${JSON.stringify(res.body)}`);
  return res.body.events;
}

/** Waits until the task read through the API satisfies `check` (the org actor tells tasks through its outbox). */
export async function until(token: string, taskId: string, check: (task: Task) => boolean, what: string): Promise<Task> {
  let last: Task | undefined;
  await vi.waitFor(
    async () => {
      last = await readTask(token, taskId);
      if (!check(last)) throw new Error(`task ${taskId} is not yet ${what}: ${JSON.stringify(last)}`);
    },
    { timeout: 10_000, interval: 20 },
  );
  if (!last) throw new Error("unreachable");
  return last;
}

/** Sets the time of the task's timers named `name` to now, so the next alarm fires them. */
export async function dueNow(taskId: string, name: string): Promise<void> {
  await runInDurableObject(env.TASK.get(env.TASK.idFromName(taskId)), (_i, state) => {
    state.storage.sql.exec("UPDATE sfp_timers SET at = ? WHERE name = ?", Date.now() - 1, name);
  });
}
