// Clients for the runner protocol tests: a runner registers, polls, accepts and writes as the runner
// manager would, over the Worker's HTTP API; actor stubs are for alarms and eviction only.
import { env, runInDurableObject } from "cloudflare:test";
import type { Accepted, Assignment, ErrorBody, Registered, RunnerEvent, Task } from "../../protocol/index.ts";
import { alarmAfter, api, createTask, setup, watchTimers, type Answer } from "./helpers.ts";

/** An answer that is either `T` or the contract's error body. */
type Reply<T> = Answer<T & Partial<ErrorBody>>;

export const RESOURCES = { cpuPercent: 12.5, memoryRssBytes: 50_000_000, load1: 0.4 };

export function taskActor(taskId: string) {
  return env.TASK.get(env.TASK.idFromName(taskId));
}

export function dispatcher(project: string, pool = "default") {
  return env.DISPATCHER.get(env.DISPATCHER.idFromName(`${project}/${pool}`));
}

/**
 * Makes an actor's timers whose name starts with `prefix` due now and runs its alarm (helpers.ts
 * `alarmAfter`), as if their time had come, without sleeping through real lease or accept
 * timeouts. Answers whether any timer matched.
 */
export function fireTimers(stub: DurableObjectStub, prefix = ""): Promise<boolean> {
  return alarmAfter(stub, (sql) => sql.exec("UPDATE sfp_timers SET at = ? WHERE name LIKE ?", Date.now() - 1, `${prefix}%`).rowsWritten > 0);
}

export async function timerNames(stub: DurableObjectStub): Promise<string[]> {
  return runInDurableObject(stub, (_instance, state) =>
    state.storage.sql
      .exec<{ name: string }>("SELECT name FROM sfp_timers ORDER BY name")
      .toArray()
      .map((r) => r.name),
  );
}

export async function registrationToken(project: string, owner: string, body: Record<string, unknown> = {}): Promise<string> {
  const res = await api("POST", `/v1/projects/${project}/registration-tokens`, { token: owner, body: { pool: "default", ...body } });
  if (res.status !== 201) throw new Error(`registration token: ${res.status} ${JSON.stringify(res.body)}`);
  return res.body.token;
}

export function registerWith(registrationToken: string, body: Record<string, unknown> = {}): Promise<Reply<Registered>> {
  return api("POST", "/v1/runners/register", {
    body: { registrationToken, name: "runner-1", labels: [], slots: 1, ephemeral: false, version: "test", ...body },
  });
}

/** A registered runner of `pool` (default "default"), with `labels` granted by its registration token. */
export async function register(project: string, owner: string, body: Record<string, unknown> = {}): Promise<Registered> {
  const { pool, ...rest } = body;
  // A runner gets only its registration token's labels, so the token grants the ones asked for.
  const grant = { ...(pool ? { pool } : {}), ...(rest.labels ? { labels: rest.labels } : {}) };
  const res = await registerWith(await registrationToken(project, owner, grant), rest);
  if (res.status !== 201) throw new Error(`register: ${res.status} ${JSON.stringify(res.body)}`);
  return res.body;
}

export function poll(runnerToken: string, body: { freeSlots?: number; waitSeconds?: number } = {}): Promise<Reply<{ assignments: Assignment[] }>> {
  return api("POST", "/v1/runners/poll", { token: runnerToken, body: { freeSlots: 1, waitSeconds: 0, ...body } });
}

/**
 * A runner's long-poll once the dispatcher has parked it (its wait's timer is armed), so what the
 * test does next finds it waiting; `answer` is the poll's eventual reply.
 */
export async function parkedPoll(runnerToken: string, waitSeconds: number, freeSlots = 1) {
  const timers = watchTimers();
  const answer = poll(runnerToken, { freeSlots, waitSeconds });
  await timers.armed(waitSeconds * 1000);
  return { answer };
}

export function accept(runnerToken: string, taskId: string, assignmentId: string): Promise<Reply<Accepted>> {
  return api("POST", `/v1/jobs/${taskId}/accept`, { token: runnerToken, body: { assignmentId } });
}

export function runnerHeartbeat(runnerToken: string, body: Record<string, unknown> = {}) {
  return api("POST", "/v1/runners/heartbeat", { token: runnerToken, body: { state: "idle", freeSlots: 1, activeTasks: [], resources: RESOURCES, ...body } });
}

export function jobHeartbeat(lease: Accepted, taskId = lease.task.id, leaseEpoch = lease.leaseEpoch) {
  return api("POST", `/v1/jobs/${taskId}/heartbeat`, { token: lease.jobToken, body: { leaseEpoch } });
}

export function jobEvents(lease: Accepted, events: RunnerEvent[]) {
  return api("POST", `/v1/jobs/${lease.task.id}/events`, { token: lease.jobToken, body: { leaseEpoch: lease.leaseEpoch, events } });
}

export function finish(lease: Accepted, body: Record<string, unknown> = { outcome: "succeeded" }) {
  return api("POST", `/v1/jobs/${lease.task.id}/finish`, { token: lease.jobToken, body: { leaseEpoch: lease.leaseEpoch, ...body } });
}

export async function readTask(owner: string, taskId: string): Promise<Task> {
  const res = await api("GET", `/v1/tasks/${taskId}`, { token: owner });
  if (res.status !== 200) throw new Error(`task read: ${res.status} ${JSON.stringify(res.body)}`);
  return res.body.task;
}

/** The one assignment a poll answers, or a failure naming what came instead. */
export async function pollOne(runnerToken: string): Promise<Assignment> {
  const res = await poll(runnerToken);
  if (res.status !== 200 || res.body.assignments.length !== 1) throw new Error(`expected one assignment, got ${res.status} ${JSON.stringify(res.body)}`);
  return res.body.assignments[0];
}

/** A project with one runner and one task that runner has accepted. */
export async function running(taskBody: Record<string, unknown> = {}) {
  const p = await setup();
  const runner = await register(p.project, p.owner);
  const task = await createTask(p.project, p.owner, taskBody);
  const offer = await pollOne(runner.runnerToken);
  const res = await accept(runner.runnerToken, task.id, offer.assignmentId);
  if (res.status !== 200) throw new Error(`accept: ${res.status} ${JSON.stringify(res.body)}`);
  return { ...p, runner, task, offer, lease: res.body };
}
