import { z } from "@hono/zod-openapi";
import { Artifact } from "./artifacts.ts";
import { Checkpoint, CheckpointFields } from "./checkpoint.ts";
import { MAX_PAYLOAD_DEPTH, nestsDeeperThan } from "./json-depth.ts";
import {
  MAX_ATTEMPTS_LIMIT,
  MAX_ERROR_CODE_CHARS,
  MAX_ERROR_MESSAGE_CHARS,
  MAX_PROGRESS_MESSAGE_CHARS,
  MAX_PROGRESS_STEP_CHARS,
  MAX_RUN_AT_DAYS,
  MAX_TIMEOUT_SECONDS,
} from "./limits.ts";

export { MAX_PAYLOAD_BYTES } from "./limits.ts";
import { CommitRef } from "./notify.ts";
import { type LiveMessage, TaskResources } from "./live.ts";

export const TASK_TYPES = ["deploy", "validate", "quick-deploy", "retrieve", "run-tests", "query", "org-check"] as const;
export const PRIORITIES = ["critical", "normal", "batch"] as const;
// `awaiting_approval` (issue 13) came after v1's first six: a task to a protected org waits there for an approver.
// `scheduled` (issue 15) after that: a task created with a future `runAt` waits there until its actor queues it.
export const TASK_STATUSES = ["queued", "running", "canceling", "succeeded", "failed", "canceled", "awaiting_approval", "scheduled"] as const;
export const TERMINAL_STATUSES = ["succeeded", "failed", "canceled"] as const;

export const TaskType = z.enum(TASK_TYPES).openapi("TaskType");
export const Priority = z.enum(PRIORITIES).openapi("Priority");
export const TaskStatus = z.enum(TASK_STATUSES).openapi("TaskStatus");
export type TaskType = z.infer<typeof TaskType>;
export type Priority = z.infer<typeof Priority>;
export type TaskStatus = z.infer<typeof TaskStatus>;

export function isTerminal(status: TaskStatus): boolean {
  return (TERMINAL_STATUSES as readonly string[]).includes(status);
}

/** The task types that change an org, so they run one at a time per org (docs/API.md "The org lock"). */
export const ORG_LOCK_TYPES = ["deploy", "validate", "quick-deploy"] as const satisfies readonly TaskType[];

export function needsOrgLock(type: TaskType): boolean {
  return (ORG_LOCK_TYPES as readonly string[]).includes(type);
}

/** The task error code of a task whose approval was not given in time. */
export const APPROVAL_EXPIRED = "approval_expired";

const Name = z
  .string()
  .min(1)
  .max(100)
  .regex(/^[A-Za-z0-9][A-Za-z0-9._-]*$/, "letters, digits, '.', '_' or '-'");
export const OrgAlias = Name.openapi("OrgAlias");
export const PoolName = Name.openapi("PoolName");
export const Label = z
  .string()
  .min(1)
  .max(64)
  .regex(/^[A-Za-z0-9][A-Za-z0-9._:=-]*$/);
export const JsonObject = z
  .record(z.string(), z.unknown())
  .refine((value) => !nestsDeeperThan(value, MAX_PAYLOAD_DEPTH), { message: `nests deeper than ${MAX_PAYLOAD_DEPTH} levels` });

export const Progress = z
  .object({
    percent: z.number().min(0).max(100).optional(),
    step: z.string().max(MAX_PROGRESS_STEP_CHARS).optional(),
    message: z.string().max(MAX_PROGRESS_MESSAGE_CHARS).optional(),
  })
  .openapi("Progress");
export type Progress = z.infer<typeof Progress>;

export const TaskErrorInfo = z
  .object({
    code: z
      .string()
      .min(1)
      .max(MAX_ERROR_CODE_CHARS)
      .openapi({
        description:
          "why the task failed: `lost` or `no_runner` (the edge); `timeout`, `worker_crashed`, `worker_start_failed`, `credentials_not_found`, " +
          "`credentials_unavailable`, `runner_shutdown` or `result_too_large` (the runner: its finish was over the API body limit); or the operation's own code " +
          "(`deploy_failed`, `tests_failed`, `zip_unavailable`, …)",
      }),
    message: z.string().max(MAX_ERROR_MESSAGE_CHARS),
  })
  .openapi("TaskError");
export type TaskErrorInfo = z.infer<typeof TaskErrorInfo>;

export const TaskSource = z
  .discriminatedUnion("kind", [
    z.object({ kind: z.literal("api"), tokenId: z.string() }),
    // issue 15: a slot of a project's schedule (protocol/schedule.ts) made the task.
    z.object({ kind: z.literal("schedule"), schedule: z.string(), slot: z.string().openapi({ description: "the slot's instant (ISO 8601, UTC)" }) }),
    z.object({
      kind: z.literal("webhook"),
      // A source's id is a credential (for a salesforce source, the only one): tasks carry a reference.
      sourceId: z.string().openapi({
        description: "the source's reference: its id without the 13-character tag, ending in `…` (never the id itself, which is a credential)",
      }),
      sourceName: z.string().optional().openapi({ description: "the source's name (absent on tasks made before the field existed)" }),
      deliveryId: z.string(),
      event: z.string(),
      rule: z.number().int(),
    }),
  ])
  .openapi("TaskSource");
export type TaskSource = z.infer<typeof TaskSource>;

/** Where a task waiting for its org's lock stands: `position` 1 is next; `holder` is the task holding it longest. */
export const WaitingFor = z
  .object({ org: z.string(), position: z.number().int().min(1), holder: z.string().nullable() })
  .openapi("WaitingFor", { description: "present while a task that changes an org waits for the org's lock (its status stays `queued`)" });
export type WaitingFor = z.infer<typeof WaitingFor>;

export const APPROVAL_DECISIONS = ["approved", "rejected"] as const;
/** A protected org's approval of a task: until when it may be given, and once decided by whom and when. */
export const Approval = z
  .object({
    expiresAt: z.string(),
    decision: z.enum(APPROVAL_DECISIONS).optional(),
    by: z.string().optional().openapi({ description: "the id of the token that approved or rejected" }),
    at: z.string().optional(),
  })
  .openapi("Approval");
export type Approval = z.infer<typeof Approval>;

export const Task = z
  .object({
    id: z.string(),
    project: z.string(),
    type: TaskType,
    org: z.string(),
    payload: JsonObject,
    priority: Priority,
    pool: z.string(),
    labels: z.array(z.string()),
    status: TaskStatus,
    attempt: z.number().int(),
    maxAttempts: z.number().int(),
    timeoutSeconds: z.number().int(),
    version: z.number().int(),
    createdAt: z.string(),
    updatedAt: z.string(),
    startedAt: z.string().optional(),
    finishedAt: z.string().optional(),
    progress: Progress.optional(),
    result: z
      .unknown()
      .optional()
      .openapi({
        description:
          "the operation's result. One that would take the runner's finish over the 1 MiB body limit is cut to fit and carries " +
          '`truncated: true` and `truncation: {reason: "result_too_large", originalBytes, limitBytes, cut, note}` (a non-object is wrapped as `{truncated, truncation, value}`)',
      }),
    error: TaskErrorInfo.optional(),
    source: TaskSource,
    // Artifacts (protocol/artifacts.ts): absent until the task's job stores its first.
    artifacts: z.array(Artifact).optional(),
    commit: CommitRef.optional().openapi({ description: "the commit the task reports its status to (issue 14)" }),
    waitingFor: WaitingFor.optional(),
    approval: Approval.optional(),
    checkpoint: Checkpoint.optional().openapi({ description: "the Salesforce job an attempt started, which a later attempt resumes" }),
    runAt: z.string().optional().openapi({ description: "when a task created with a future `runAt` is queued (it is `scheduled` until then; issue 15)" }),
    resources: TaskResources.optional(),
  })
  .openapi("Task");
export type Task = z.infer<typeof Task>;

export const DEFAULT_POOL = "default";
export const DEFAULT_MAX_ATTEMPTS = 3;
export const DEFAULT_TIMEOUT_SECONDS = 3600;

export const CreateTaskBody = z
  .object({
    type: TaskType,
    org: OrgAlias,
    payload: JsonObject.optional(),
    priority: Priority.optional(),
    pool: PoolName.optional(),
    labels: z.array(Label).max(20).optional(),
    timeoutSeconds: z.number().int().min(1).max(MAX_TIMEOUT_SECONDS).optional(),
    maxAttempts: z.number().int().min(1).max(MAX_ATTEMPTS_LIMIT).optional(),
    commit: CommitRef.optional(),
    runAt: z.iso
      .datetime({ offset: true })
      .optional()
      .openapi({
        description: `queue the task at this instant (ISO 8601 with Z or an offset), at most ${MAX_RUN_AT_DAYS} days ahead; until then it is \`scheduled\` and cancelable. An instant not in the future queues it at once`,
      }),
  })
  .strict()
  .openapi("CreateTaskBody");
export type CreateTaskBody = z.infer<typeof CreateTaskBody>;

// Events: seq starts at 1 and has no gaps; every task change appends one.
const EventBase = { seq: z.number().int().min(1), at: z.string() };
export const StatusEvent = z.object({
  ...EventBase,
  type: z.literal("status"),
  status: TaskStatus,
  attempt: z.number().int(),
  error: TaskErrorInfo.optional(),
});
export const ProgressEvent = z.object({ ...EventBase, type: z.literal("progress"), ...Progress.shape });
export const LogEvent = z.object({ ...EventBase, type: z.literal("log"), lines: z.array(z.string()) });
export const ResultEvent = z.object({ ...EventBase, type: z.literal("result"), result: z.unknown() });
/** The org lock: `waiting` (with where the task stands) while in line, `held` once it holds the lock. */
export const LockEvent = z.object({
  ...EventBase,
  type: z.literal("lock"),
  org: z.string(),
  state: z.enum(["waiting", "held"]),
  position: z.number().int().optional(),
  holder: z.string().nullable().optional(),
});
/** A protected org's approval: `required` (until `expiresAt`), `approved` or `rejected` (`by` a token id), `expired`. */
export const ApprovalEvent = z.object({
  ...EventBase,
  type: z.literal("approval"),
  decision: z.enum(["required", "approved", "rejected", "expired"]),
  org: z.string(),
  by: z.string().optional(),
  role: z.string().optional(),
  expiresAt: z.string().optional(),
});
export type LockEvent = z.infer<typeof LockEvent>;
export type ApprovalEvent = z.infer<typeof ApprovalEvent>;
export const CheckpointEvent = z.object({ ...EventBase, type: z.literal("checkpoint"), ...CheckpointFields.shape, attempt: z.number().int() });
export const ArtifactEvent = z.object({ ...EventBase, type: z.literal("artifact"), artifact: Artifact });
export const TaskEvent = z
  .discriminatedUnion("type", [StatusEvent, ProgressEvent, LogEvent, ResultEvent, ArtifactEvent, LockEvent, ApprovalEvent, CheckpointEvent])
  .openapi("TaskEvent");
export type TaskEvent = z.infer<typeof TaskEvent>;

export const EventsPage = z.object({ events: z.array(TaskEvent), lastSeq: z.number().int(), done: z.boolean() }).openapi("EventsPage");
export type EventsPage = z.infer<typeof EventsPage>;

/**
 * A task without its `payload` and `result` (up to 256 KiB and 1 MiB): what the project list and the
 * project feed carry, as of the task's last status change (no `checkpoint` either: it is the runner's).
 * `GET /v1/tasks/:id` has the whole task.
 */
export const TaskSummary = Task.omit({ payload: true, result: true, artifacts: true, checkpoint: true, resources: true }).openapi("TaskSummary");
export type TaskSummary = z.infer<typeof TaskSummary>;

/** The summary of a task (or of a summary), field by field, so nothing large can ride along. */
export function taskSummary(task: TaskSummary): TaskSummary {
  const { id, project, type, org, priority, pool, labels, status, attempt, maxAttempts, timeoutSeconds, version } = task;
  const { createdAt, updatedAt, startedAt, finishedAt, progress, error, source, waitingFor, approval } = task;
  const summary: TaskSummary = {
    id,
    project,
    type,
    org,
    priority,
    pool,
    labels,
    status,
    attempt,
    maxAttempts,
    timeoutSeconds,
    version,
    createdAt,
    updatedAt,
    source,
  };
  if (startedAt !== undefined) summary.startedAt = startedAt;
  if (finishedAt !== undefined) summary.finishedAt = finishedAt;
  if (progress !== undefined) summary.progress = progress;
  if (error !== undefined) summary.error = error;
  if (task.commit !== undefined) summary.commit = task.commit;
  if (waitingFor !== undefined) summary.waitingFor = waitingFor;
  if (approval !== undefined) summary.approval = approval;
  if (task.runAt !== undefined) summary.runAt = task.runAt;
  return summary;
}

export const TaskList = z.object({ tasks: z.array(TaskSummary), cursor: z.string().nullable() }).openapi("TaskList");
export type TaskList = z.infer<typeof TaskList>;

// WebSocket messages (server → client, client → server).
export type ServerMessage =
  | { type: "hello"; taskId?: string; project?: string; version: number; lastSeq: number }
  | { type: "event"; taskId: string; seq: number; event: TaskEvent }
  // On sockets opened with ?batch=1: consecutive events in one frame, in seq order.
  | { type: "events"; taskId: string; events: TaskEvent[] }
  // The task socket sends the whole task; the project feed sends its summary, with the feed's seq.
  | { type: "task"; task: TaskSummary; seq?: number }
  | { type: "error"; error: { code: string; message: string } }
  | LiveMessage;
export const ClientMessage = z.discriminatedUnion("type", [z.object({ type: z.literal("resume"), after: z.number().int().min(0) })]);
export type ClientMessage = z.infer<typeof ClientMessage>;
