import { z } from "@hono/zod-openapi";
import { Checkpoint, CheckpointFields } from "./checkpoint.ts";
import { MAX_PAYLOAD_DEPTH, nestsDeeperThan } from "./json-depth.ts";

export const TASK_TYPES = ["deploy", "validate", "quick-deploy", "retrieve", "run-tests", "query", "org-check"] as const;
export const PRIORITIES = ["critical", "normal", "batch"] as const;
export const TASK_STATUSES = ["queued", "running", "canceling", "succeeded", "failed", "canceled"] as const;
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
    step: z.string().max(200).optional(),
    message: z.string().max(2000).optional(),
  })
  .openapi("Progress");
export type Progress = z.infer<typeof Progress>;

export const TaskErrorInfo = z.object({ code: z.string().min(1).max(100), message: z.string().max(10_000) }).openapi("TaskError");
export type TaskErrorInfo = z.infer<typeof TaskErrorInfo>;

export const TaskSource = z
  .discriminatedUnion("kind", [
    z.object({ kind: z.literal("api"), tokenId: z.string() }),
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
    result: z.unknown().optional(),
    error: TaskErrorInfo.optional(),
    source: TaskSource,
    checkpoint: Checkpoint.optional().openapi({ description: "the Salesforce job an attempt started, which a later attempt resumes" }),
  })
  .openapi("Task");
export type Task = z.infer<typeof Task>;

export const DEFAULT_POOL = "default";
export const DEFAULT_MAX_ATTEMPTS = 3;
export const DEFAULT_TIMEOUT_SECONDS = 3600;
export const MAX_PAYLOAD_BYTES = 256 * 1024;

export const CreateTaskBody = z
  .object({
    type: TaskType,
    org: OrgAlias,
    payload: JsonObject.optional(),
    priority: Priority.optional(),
    pool: PoolName.optional(),
    labels: z.array(Label).max(20).optional(),
    timeoutSeconds: z
      .number()
      .int()
      .min(1)
      .max(24 * 3600)
      .optional(),
    maxAttempts: z.number().int().min(1).max(10).optional(),
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
export const CheckpointEvent = z.object({ ...EventBase, type: z.literal("checkpoint"), ...CheckpointFields.shape, attempt: z.number().int() });
export const TaskEvent = z.discriminatedUnion("type", [StatusEvent, ProgressEvent, LogEvent, ResultEvent, CheckpointEvent]).openapi("TaskEvent");
export type TaskEvent = z.infer<typeof TaskEvent>;

export const EventsPage = z.object({ events: z.array(TaskEvent), lastSeq: z.number().int(), done: z.boolean() }).openapi("EventsPage");
export type EventsPage = z.infer<typeof EventsPage>;

/**
 * A task without its `payload` and `result` (up to 256 KiB and 1 MiB): what the project list and the
 * project feed carry, as of the task's last status change (no `checkpoint` either: it is the runner's).
 * `GET /v1/tasks/:id` has the whole task.
 */
export const TaskSummary = Task.omit({ payload: true, result: true, checkpoint: true }).openapi("TaskSummary");
export type TaskSummary = z.infer<typeof TaskSummary>;

/** The summary of a task (or of a summary), field by field, so nothing large can ride along. */
export function taskSummary(task: TaskSummary): TaskSummary {
  const { id, project, type, org, priority, pool, labels, status, attempt, maxAttempts, timeoutSeconds, version } = task;
  const { createdAt, updatedAt, startedAt, finishedAt, progress, error, source } = task;
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
  return summary;
}

export const TaskList = z.object({ tasks: z.array(TaskSummary), cursor: z.string().nullable() }).openapi("TaskList");
export type TaskList = z.infer<typeof TaskList>;

// WebSocket messages (server → client, client → server).
export type ServerMessage =
  | { type: "hello"; taskId?: string; project?: string; version: number; lastSeq: number }
  | { type: "event"; taskId: string; seq: number; event: TaskEvent }
  // The task socket sends the whole task; the project feed sends its summary.
  | { type: "task"; task: TaskSummary }
  | { type: "error"; error: { code: string; message: string } };
export const ClientMessage = z.discriminatedUnion("type", [z.object({ type: z.literal("resume"), after: z.number().int().min(0) })]);
export type ClientMessage = z.infer<typeof ClientMessage>;
