import { z } from "@hono/zod-openapi";
import { MAX_EVENT_BATCH, MAX_LOG_LINE_CHARS, MAX_LOG_LINES_PER_EVENT, MAX_RUNNER_POLL_SECONDS } from "./limits.ts";
import { CheckpointFields } from "./checkpoint.ts";
import { Label, PoolName, Progress, Task, TaskErrorInfo } from "./task.ts";
import { JobSample, RunnerLoadReport } from "./live.ts";

// How the edge answers the runner protocol, in brief (docs/API.md "Runner protocol" has each route):
// - accept: 409 `assignment_expired` (offer expired, unknown, or another runner's), `conflict` (the
//   task is held by another lease), `already_finished`; 410 `gone` when the task was canceled. A
//   retried accept of an offer the task already granted answers the same lease, even after acceptBy.
// - heartbeat/events of a job: 409 `stale_lease` for an epoch that is not the live lease (also after
//   a lapsed lease's task was failed as lost), 410 `gone` to the lease whose finish ended the task. finish: 409 for a stale epoch, for a different finish of a finished lease,
//   and for outcome `canceled` when no cancel was requested (report `failed` instead).
// - A job token of another task or another epoch than the body's `leaseEpoch` is 403, as is a runner
//   token on job calls, a job token on runner calls, and a project token on either.
// - Runner calls of a revoked, deregistered or unknown runner are 401, except `DELETE /v1/runners/self`
//   of a deregistered runner, which answers 204 again. An ephemeral runner is deregistered when its
//   one job's lease ends.
// - `POST /v1/projects/:project/runners/:id/drain` (owner) → 204: the runner is offered nothing more
//   and its next heartbeat answer carries `{type:"drain"}`.
// - Tasks fail with `error.code` LEASE_LOST after the last attempt's lease lapsed, and NO_RUNNER when
//   they waited QUEUE_TTL_SECONDS while no registered runner of the pool had all their labels, or at
//   once when 64 distinct label sets already wait in the pool and no runner of it has or had theirs.
// - A finish body over MAX_API_BODY_BYTES is 413 `too_large`. Runners keep results within it (a cut
//   result carries `truncated: true` and `truncation`); when the edge refuses a finish anyway, the
//   runner finishes `failed` with `error.code` RESULT_TOO_LARGE rather than losing the lease.
export const LEASE_LOST = "lost";
export const NO_RUNNER = "no_runner";
export const RESULT_TOO_LARGE = "result_too_large";

export const RUNNER_STATES = ["idle", "busy", "draining", "offline"] as const;
export const RunnerState = z.enum(RUNNER_STATES).openapi("RunnerState");
export type RunnerState = z.infer<typeof RunnerState>;

export const CreateRegistrationTokenBody = z
  .object({
    pool: PoolName,
    labels: z.array(Label).max(20).optional(),
    expiresInSeconds: z
      .number()
      .int()
      .min(60)
      .max(30 * 24 * 3600)
      .optional(),
    uses: z.number().int().min(1).max(1000).optional(),
  })
  .strict()
  .openapi("CreateRegistrationTokenBody");
export type CreateRegistrationTokenBody = z.infer<typeof CreateRegistrationTokenBody>;
export const RegistrationToken = z.object({ token: z.string(), expiresAt: z.string() }).openapi("RegistrationToken");

export const RegisterBody = z
  .object({
    registrationToken: z.string().min(1),
    name: z.string().min(1).max(100),
    labels: z.array(Label).max(20).default([]),
    slots: z.number().int().min(1).max(64),
    ephemeral: z.boolean().default(false),
    version: z.string().max(50),
  })
  .strict()
  .openapi("RegisterBody");
export type RegisterBody = z.infer<typeof RegisterBody>;

export const RunnerSettings = z.object({
  pollWaitSeconds: z.number().int(),
  heartbeatSeconds: z.number().int(),
  leaseSeconds: z.number().int(),
});
export type RunnerSettings = z.infer<typeof RunnerSettings>;
export const Registered = z
  .object({ runnerId: z.string(), runnerToken: z.string(), project: z.string(), pool: z.string(), settings: RunnerSettings })
  .openapi("Registered");
export type Registered = z.infer<typeof Registered>;

export const PollBody = z
  .object({ freeSlots: z.number().int().min(0).max(64), waitSeconds: z.number().int().min(0).max(MAX_RUNNER_POLL_SECONDS).default(MAX_RUNNER_POLL_SECONDS) })
  .strict()
  .openapi("PollBody");
export type PollBody = z.infer<typeof PollBody>;
export const Assignment = z.object({ taskId: z.string(), assignmentId: z.string(), acceptBy: z.string() }).openapi("Assignment");
export type Assignment = z.infer<typeof Assignment>;
export const PollAnswer = z.object({ assignments: z.array(Assignment) }).openapi("PollAnswer");
export type PollAnswer = z.infer<typeof PollAnswer>;

export const AcceptBody = z
  .object({ assignmentId: z.string().min(1) })
  .strict()
  .openapi("AcceptBody");
export const Accepted = z.object({ jobToken: z.string(), leaseEpoch: z.number().int(), leaseExpiresAt: z.string(), task: Task }).openapi("Accepted");
export type Accepted = z.infer<typeof Accepted>;

export const JobHeartbeatBody = z
  .object({
    leaseEpoch: z.number().int().min(1),
    resources: JobSample.optional().openapi({
      description: "the job's worker process as last sampled (issue 16): pushed to the task's sockets, its peak kept",
    }),
  })
  .strict()
  .openapi("JobHeartbeatBody");
export const JobHeartbeatAnswer = z.object({ leaseExpiresAt: z.string(), cancelRequested: z.boolean() }).openapi("JobHeartbeatAnswer");
export type JobHeartbeatAnswer = z.infer<typeof JobHeartbeatAnswer>;

// Runner events carry the runner's own per-lease seq (1, 2, …); the task actor renumbers them into
// the task's gapless event log and acknowledges the highest contiguous runner seq it stored.
const RunnerEventBase = { seq: z.number().int().min(1) };
export const RunnerEvent = z.discriminatedUnion("type", [
  z.object({ ...RunnerEventBase, type: z.literal("progress"), ...Progress.shape }),
  z.object({ ...RunnerEventBase, type: z.literal("log"), lines: z.array(z.string().max(MAX_LOG_LINE_CHARS)).min(1).max(MAX_LOG_LINES_PER_EVENT) }),
  // The Salesforce job this attempt started (protocol/checkpoint.ts): kept on the task for the next attempt.
  z.object({ ...RunnerEventBase, type: z.literal("checkpoint"), ...CheckpointFields.shape }),
]);
export type RunnerEvent = z.infer<typeof RunnerEvent>;
export const JobEventsBody = z
  .object({ leaseEpoch: z.number().int().min(1), events: z.array(RunnerEvent).min(1).max(MAX_EVENT_BATCH) })
  .strict()
  .openapi("JobEventsBody");
export type JobEventsBody = z.infer<typeof JobEventsBody>;
export const JobEventsAnswer = z.object({ ackedSeq: z.number().int() }).openapi("JobEventsAnswer");

export const OUTCOMES = ["succeeded", "failed", "canceled"] as const;
export const FinishBody = z
  .object({
    leaseEpoch: z.number().int().min(1),
    outcome: z.enum(OUTCOMES),
    result: z.unknown().optional(),
    error: TaskErrorInfo.optional(),
  })
  .strict()
  .openapi("FinishBody");
export type FinishBody = z.infer<typeof FinishBody>;

export const Resources = z.object({
  cpuPercent: z.number().min(0).max(100_000),
  memoryRssBytes: z.number().int().min(0),
  load1: z.number().min(0),
  // Issue 16 (protocol/live.ts): the manager process itself, each job's worker, and the container's cgroup.
  manager: JobSample.optional().openapi({ description: "the manager process's own CPU % (100 = one core) and RSS" }),
  ...RunnerLoadReport,
});
export type Resources = z.infer<typeof Resources>;
export const RunnerHeartbeatBody = z
  .object({
    state: z.enum(["idle", "busy", "draining"]),
    freeSlots: z.number().int().min(0).max(64),
    activeTasks: z.array(z.string()).max(64),
    resources: Resources,
  })
  .strict()
  .openapi("RunnerHeartbeatBody");
export type RunnerHeartbeatBody = z.infer<typeof RunnerHeartbeatBody>;
/** Actions the edge asks of a runner in a heartbeat answer. */
export const RunnerAction = z.discriminatedUnion("type", [z.object({ type: z.literal("cancel"), taskId: z.string() }), z.object({ type: z.literal("drain") })]);
export type RunnerAction = z.infer<typeof RunnerAction>;
export const RunnerHeartbeatAnswer = z.object({ actions: z.array(RunnerAction) }).openapi("RunnerHeartbeatAnswer");

export const RunnerInfo = z
  .object({
    id: z.string(),
    name: z.string(),
    pool: z.string(),
    labels: z.array(z.string()),
    slots: z.number().int(),
    ephemeral: z.boolean(),
    version: z.string(),
    state: RunnerState,
    freeSlots: z.number().int(),
    activeTasks: z.array(z.string()),
    resources: Resources.nullable(),
    registeredAt: z.string(),
    lastSeenAt: z.string(),
  })
  .openapi("RunnerInfo");
export type RunnerInfo = z.infer<typeof RunnerInfo>;

/**
 * The signed nudge the dispatcher sends a pool's origin when work arrives and no poll is parked.
 * Signing key: HMAC-SHA256(ORIGIN_TOKEN, WAKE_KEY_LABEL), so the token that travels in
 * ORIGIN_TOKEN_HEADER (for Caddy) does not sign by itself. WAKE_SIGNATURE_HEADER: hex
 * HMAC-SHA256(key, `${timestamp}.${nonce}.${raw body}`); WAKE_TIMESTAMP_HEADER: unix seconds, within
 * ±5 min of the manager's clock; WAKE_NONCE_HEADER: fresh per wake, refused when a manager sees it twice.
 */
export const WAKE_PATH = "/v1/wake";
export const WAKE_SIGNATURE_HEADER = "x-sfp-signature";
export const WAKE_TIMESTAMP_HEADER = "x-sfp-timestamp";
export const WAKE_NONCE_HEADER = "x-sfp-nonce";
export const WAKE_KEY_LABEL = "sfp-wake-v1";
/** A wake nonce: 16 to 64 URL-safe characters (the edge sends 32 hex digits). */
export const WAKE_NONCE_PATTERN = /^[A-Za-z0-9_-]{16,64}$/;
export const ORIGIN_TOKEN_HEADER = "x-sfp-origin-token";
export const WakeBody = z.object({ project: z.string(), pool: z.string(), queued: z.number().int() });
export type WakeBody = z.infer<typeof WakeBody>;
