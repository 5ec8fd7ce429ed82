// Drives a task's state from inside its actor, for tests of the client-facing API that must not
// depend on the runner protocol: the same private transitions the runner's calls end up in.
import { env, runInDurableObject } from "cloudflare:test";
import type { Task, TaskStatus } from "../../protocol/index.ts";

interface Internals {
  task: Task | null;
  moveTo(task: Task, status: TaskStatus, change?: { patch?: Partial<Task> }): Task;
  commit(next: Task, drafts: unknown[]): unknown;
}

function stub(taskId: string) {
  return env.TASK.get(env.TASK.idFromName(taskId));
}

async function inside<R>(taskId: string, fn: (actor: Internals) => R): Promise<R> {
  return runInDurableObject(stub(taskId), (instance) => fn(instance as unknown as Internals));
}

export function moveTo(taskId: string, status: TaskStatus, patch: Partial<Task> = {}) {
  return inside(taskId, (a) => a.moveTo(a.task!, status, { patch }));
}

export function appendLog(taskId: string, lines: string[]) {
  return inside(taskId, (a) => a.commit({ ...a.task! }, [{ type: "log", lines }]));
}

export function appendProgress(taskId: string, percent: number, step?: string) {
  return inside(taskId, (a) => a.commit({ ...a.task! }, [{ type: "progress", percent, ...(step ? { step } : {}) }]));
}

/** Several progress events, each its own commit, all in one turn of the actor. */
export function appendProgressInOneTurn(taskId: string, percents: number[]) {
  return inside(taskId, (a) => {
    for (const percent of percents) a.commit({ ...a.task! }, [{ type: "progress", percent }]);
  });
}

/** queued → running → succeeded (with a result), as a runner would drive it. */
export async function runToSuccess(taskId: string, result: unknown = { ok: true }) {
  if ((await inside(taskId, (a) => a.task!.status)) === "queued") await moveTo(taskId, "running");
  await inside(taskId, (a) => a.commit({ ...a.task! }, [{ type: "result", result }]));
  return moveTo(taskId, "succeeded");
}
