// A new task's input, built the same way for both doors a task comes in by: the task API hands it
// to the task's own TaskActor (createTask); a webhook delivery hands it to an ingest shard instead
// (edge/ingest.ts). Here: the org's pool, the defaults, and the payload limit.
import { log } from "../common/log.ts";
import type { NewTask, QueueEntry } from "../common/messages.ts";
import {
  ApiError,
  DEFAULT_MAX_ATTEMPTS,
  DEFAULT_POOL,
  DEFAULT_TIMEOUT_SECONDS,
  MAX_PAYLOAD_BYTES,
  MAX_RUN_AT_DAYS,
  type CreateTaskBody,
  type Task,
  type TaskSource,
} from "../protocol/index.ts";
import type { ProtectedOrgMode } from "../protocol/webhook.ts";
import { projectView } from "./auth/project-view.ts";
import { dispatcherStub, taskStub, type Env } from "../actors/env.ts";
import { nowIso } from "../actors/sql.ts";
import { bornQueueEntry, bornTask } from "../actors/task-state.ts";

/** The pool of a registered org; an unknown alias is a 400 naming `org` (checked fresh before refusing). */
export async function poolOf(env: Env, project: string, org: string, field = "org"): Promise<string> {
  return (await orgOf(env, project, org, field)).pool;
}

/** A registered org's pool and protection as the edge's cached view has them. */
async function orgOf(env: Env, project: string, org: string, field: string): Promise<{ pool: string; protected: boolean }> {
  let entry = await projectView(env, project);
  if (entry && !entry.view.orgs[org]) entry = await projectView(env, project, true);
  const known = entry?.view.orgs[org];
  if (!known)
    throw new ApiError("invalid_request", `${field}: unknown org alias "${org}"; register it with PUT /v1/projects/${project}/orgs/${org}`, { field });
  return { pool: known.pool ?? DEFAULT_POOL, protected: known.protected === true };
}

/**
 * Builds the actor's input from a validated request (API or webhook rule), filling the defaults. A
 * webhook rule marked `validate-only` makes its deploy to a protected org a validate (issue 13);
 * whether the org is protected is decided again, authoritatively, by the org's lock.
 */
export async function newTask(
  env: Env,
  id: string,
  project: string,
  body: CreateTaskBody,
  source: TaskSource,
  opts: { protectedOrg?: ProtectedOrgMode } = {},
): Promise<NewTask> {
  const payload = body.payload ?? {};
  if (new TextEncoder().encode(JSON.stringify(payload)).length > MAX_PAYLOAD_BYTES) {
    throw new ApiError("too_large", `payload is over ${MAX_PAYLOAD_BYTES} bytes; pass large artifacts by URL`, { field: "payload" });
  }
  const runAt = runAtOf(body.runAt);
  const org = await orgOf(env, project, body.org, "org");
  const validateOnly = opts.protectedOrg === "validate-only" && org.protected && body.type === "deploy";
  return {
    id,
    project,
    type: validateOnly ? "validate" : body.type,
    org: body.org,
    payload,
    priority: body.priority ?? "normal",
    pool: body.pool ?? org.pool,
    labels: [...new Set(body.labels ?? [])].sort(),
    timeoutSeconds: body.timeoutSeconds ?? DEFAULT_TIMEOUT_SECONDS,
    maxAttempts: body.maxAttempts ?? DEFAULT_MAX_ATTEMPTS,
    source,
    ...(body.commit ? { commit: body.commit } : {}),
    ...(runAt ? { runAt } : {}),
  };
}

/**
 * A task's `runAt` (issue 15) as the UTC instant it is kept as: at most MAX_RUN_AT_DAYS ahead (400
 * naming `runAt` past that); an instant not in the future is no `runAt` at all: the task is queued now.
 */
export function runAtOf(value: string | undefined, now = Date.now()): string | undefined {
  if (value === undefined) return undefined;
  const at = Date.parse(value);
  if (Number.isNaN(at)) throw new ApiError("invalid_request", "runAt: not an ISO 8601 instant", { field: "runAt" });
  if (at > now + MAX_RUN_AT_DAYS * 86_400_000) throw new ApiError("invalid_request", `runAt: at most ${MAX_RUN_AT_DAYS} days ahead`, { field: "runAt" });
  return at > now ? new Date(at).toISOString() : undefined;
}

/**
 * The task API's create, at the task's own actor: idempotent by id, so an Idempotency-Key retry lands
 * on the same task. For a `fresh` id (just minted: no task can have it yet) whose task is born
 * straight into the queue (bornQueueEntry), the queue entry goes to the dispatcher at the same time,
 * so a parked runner poll is answered one durable commit earlier (issue 17, bench B2).
 *
 * Why this loses no task and runs none twice: the actor's outbox still sends the same entry after
 * the birth commit (the guarantee; the dispatcher admits it once by task and attempt); a lease is
 * still granted only by the task's actor, to a queued task, once per attempt; an accept that
 * arrives before the birth waits for it (bounded), and an entry whose task never comes is dropped
 * without being recorded as departed, so a creation arriving later is still queued by its outbox.
 */
export async function createTask(env: Env, input: NewTask, opts: { fresh?: boolean } = {}): Promise<{ task: Task; created: boolean }> {
  const at = nowIso();
  const entry = opts.fresh ? bornQueueEntry(bornTask(input, at)) : null;
  const early = entry ? enqueueEarly(env, entry) : undefined;
  const created = taskStub(env, input.id).create(input, at);
  // The answer still waits for the actor (it waited for its own enqueue); the early one never fails it.
  const [result] = await Promise.all([created, early]);
  return result;
}

/** The early enqueue is an optimisation: a failure is logged, and the task's outbox enqueues anyway. */
async function enqueueEarly(env: Env, entry: QueueEntry): Promise<void> {
  try {
    await dispatcherStub(env, entry.project, entry.pool).enqueueEarly(entry);
  } catch (err) {
    log("warn", "early enqueue failed; the task's outbox queues it", { taskId: entry.taskId, error: String(err) });
  }
}
