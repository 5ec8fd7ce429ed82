// Helpers for the schedule tests (issue 15): the ScheduleActor's stub, its test clock (a row only
// tests write, see actors/schedule-actor.ts), and one alarm run at a chosen instant.
import { env, runDurableObjectAlarm, runInDurableObject } from "cloudflare:test";
import { api } from "./helpers.ts";

export function scheduleActor(project: string, name: string) {
  return env.SCHEDULE.get(env.SCHEDULE.idFromName(`${project}/${name}`));
}

/** Fixes the actor's "now" at `iso`. */
export async function setClock(project: string, name: string, iso: string): Promise<void> {
  await runInDurableObject(scheduleActor(project, name), (_instance, state) => {
    state.storage.sql.exec("INSERT INTO sfp_clock (id, now) VALUES (1, ?) ON CONFLICT(id) DO UPDATE SET now = excluded.now", Date.parse(iso));
  });
}

/** Runs the schedule's alarm as if it came at `iso`. */
export async function alarmAt(project: string, name: string, iso: string): Promise<boolean> {
  await setClock(project, name, iso);
  return runDurableObjectAlarm(scheduleActor(project, name));
}

export async function putSchedule(project: string, token: string, name: string, body: Record<string, unknown>) {
  return api("PUT", `/v1/projects/${project}/schedules/${name}`, { token, body: { task: { type: "run-tests", org: "demo" }, ...body } });
}

export interface RunView {
  slot: string;
  outcome: string;
  taskId: string | null;
  missed: number;
}

export async function runsOf(project: string, token: string, name: string, next = 5): Promise<{ runs: RunView[]; next: string[] }> {
  const res = await api("GET", `/v1/projects/${project}/schedules/${name}/runs?limit=50&next=${next}`, { token });
  if (res.status !== 200) throw new Error(`runs: ${res.status} ${JSON.stringify(res.body)}`);
  return res.body;
}

/** The project's tasks a schedule made. */
export async function scheduledTasks(project: string, token: string): Promise<{ id: string; status: string; source: { slot?: string } }[]> {
  const res = await api("GET", `/v1/projects/${project}/tasks?limit=200`, { token });
  return res.body.tasks.filter((t: { source: { kind: string } }) => t.source.kind === "schedule");
}
