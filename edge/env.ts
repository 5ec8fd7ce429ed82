import type { DispatcherActor } from "../actors/dispatcher-actor.ts";
import type { IngestActor } from "../actors/ingest-actor.ts";
import type { ProjectActor } from "../actors/project-actor.ts";
import type { TaskActor } from "../actors/task-actor.ts";

/** The Worker's bindings (wrangler.toml) and secrets (.dev.vars / `wrangler secret put`). */
export interface Env {
  TASK: DurableObjectNamespace<TaskActor>;
  PROJECT: DurableObjectNamespace<ProjectActor>;
  DISPATCHER: DurableObjectNamespace<DispatcherActor>;
  INGEST: DurableObjectNamespace<IngestActor>;
  API_LIMIT: RateLimit;
  WEBHOOK_LIMIT: RateLimit;
  UNAUTH_LIMIT: RateLimit;
  ADMIN_TOKEN: string;
  TOKEN_SIGNING_KEY: string;
  ORIGIN_TOKEN?: string;
  LEASE_SECONDS?: string;
  ACCEPT_SECONDS?: string;
  POLL_WAIT_SECONDS?: string;
  QUEUE_TTL_SECONDS?: string;
  POOL_ORIGINS?: string;
  ASSETS?: Fetcher;
}

export const VERSION = "0.1.0";

/** Timing settings (DESIGN.md §2), read from Worker vars so tests and operators can change them. */
export function timings(env: Env) {
  const num = (v: string | undefined, d: number) => {
    const n = Number(v);
    return Number.isFinite(n) && n > 0 ? n : d;
  };
  return {
    leaseSeconds: num(env.LEASE_SECONDS, 60),
    acceptSeconds: num(env.ACCEPT_SECONDS, 15),
    pollWaitSeconds: num(env.POLL_WAIT_SECONDS, 25),
    queueTtlSeconds: num(env.QUEUE_TTL_SECONDS, 3600),
  };
}

export function taskStub(env: Env, taskId: string) {
  return env.TASK.get(env.TASK.idFromName(taskId));
}

export function projectStub(env: Env, projectId: string) {
  return env.PROJECT.get(env.PROJECT.idFromName(projectId));
}

/** One of the few ingest shards (protocol/ids.ts INGEST_SHARDS) that take webhook deliveries in batches. */
export function ingestStub(env: Env, shard: number) {
  return env.INGEST.get(env.INGEST.idFromName(`ingest-${shard}`));
}

export function dispatcherStub(env: Env, projectId: string, pool: string) {
  return env.DISPATCHER.get(env.DISPATCHER.idFromName(`${projectId}/${pool}`));
}
