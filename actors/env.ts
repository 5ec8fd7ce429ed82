import type { DispatcherActor } from "./dispatcher-actor.ts";
import type { IngestActor } from "./ingest-actor.ts";
import type { MetricsActor } from "./metrics-actor.ts";
import type { OrgActor } from "./org-actor.ts";
import type { ProjectActor } from "./project-actor.ts";
import type { ScheduleActor } from "./schedule-actor.ts";
import type { ScheduleListActor } from "./schedule-list.ts";
import type { TaskActor } from "./task-actor.ts";

// The Worker's bindings and the typed stubs of its actors. It lives with the actors because the
// bindings are typed by the actor classes; the edge imports it from here (downward).
/** The Worker's bindings (wrangler.toml) and secrets (.dev.vars / `wrangler secret put`). */
export interface Env {
  TASK: DurableObjectNamespace<TaskActor>;
  PROJECT: DurableObjectNamespace<ProjectActor>;
  DISPATCHER: DurableObjectNamespace<DispatcherActor>;
  INGEST: DurableObjectNamespace<IngestActor>;
  ORG: DurableObjectNamespace<OrgActor>;
  /** issue 15: one ScheduleActor per (project, schedule), one ScheduleListActor per project. */
  SCHEDULE: DurableObjectNamespace<ScheduleActor>;
  SCHEDULE_LIST: DurableObjectNamespace<ScheduleListActor>;
  /** The edge's counters (actors/metrics-actor.ts), and the same records to Workers Analytics Engine. */
  METRICS: DurableObjectNamespace<MetricsActor>;
  METRICS_AE?: AnalyticsEngineDataset;
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
  /** Local development only: notification endpoints and status API URLs on loopback (protocol/notify.ts). */
  SFP_ALLOW_LOOPBACK_ENDPOINTS?: string;
  /** Seals secrets the actors keep (common/secret-box.ts); TOKEN_SIGNING_KEY when unset. */
  SECRETS_KEY?: string;
  ASSETS?: Fetcher;
  /** Artifacts' bytes (actors/task-artifacts.ts), with their limits over the defaults of protocol/artifacts.ts. */
  ARTIFACTS: R2Bucket;
  ARTIFACT_MAX_BYTES?: string;
  ARTIFACT_TASK_MAX_BYTES?: string;
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

/** The lock of one org of a project (actors/org-actor.ts). */
export function orgStub(env: Env, projectId: string, org: string) {
  return env.ORG.get(env.ORG.idFromName(`${projectId}/${org}`));
}

/** One schedule of a project (actors/schedule-actor.ts). */
export function scheduleStub(env: Env, projectId: string, name: string) {
  return env.SCHEDULE.get(env.SCHEDULE.idFromName(`${projectId}/${name}`));
}

/** The names of a project's schedules (actors/schedule-list.ts). */
export function scheduleListStub(env: Env, projectId: string) {
  return env.SCHEDULE_LIST.get(env.SCHEDULE_LIST.idFromName(projectId));
}
