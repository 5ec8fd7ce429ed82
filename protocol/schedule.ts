// Schedules (issue 15): a project's recurring tasks. A schedule names a 5-field cron expression read in
// an IANA timezone (so its wall-clock times hold across DST), the task each slot makes, and what
// happens to slots that overlap a still-active run or were missed while nothing could fire them.
import { z } from "@hono/zod-openapi";
import { MAX_SCHEDULE_NEXT_RUNS } from "./limits.ts";
import { CreateTaskBody } from "./task.ts";

export const ScheduleName = z
  .string()
  .min(1)
  .max(100)
  .regex(/^[A-Za-z0-9][A-Za-z0-9._-]*$/, "letters, digits, '.', '_' or '-'")
  .openapi("ScheduleName");

export const OVERLAP_POLICIES = ["skip", "queue"] as const;
export const MISSED_POLICIES = ["latest", "skip"] as const;

/** The task each slot makes: the task creation body without `runAt` (the slot is its time). */
export const ScheduleTaskTemplate = CreateTaskBody.omit({ runAt: true }).openapi("ScheduleTaskTemplate");
export type ScheduleTaskTemplate = z.infer<typeof ScheduleTaskTemplate>;

export const PutScheduleBody = z
  .object({
    cron: z.string().min(1).max(200).openapi({ description: "5 fields: minute hour day-of-month month day-of-week, e.g. `0 22 * * 1-5`" }),
    timezone: z.string().min(1).max(64).default("UTC").openapi({ description: "IANA timezone the cron is read in, e.g. `Europe/Berlin` (default UTC)" }),
    task: ScheduleTaskTemplate,
    enabled: z.boolean().default(true),
    overlap: z
      .enum(OVERLAP_POLICIES)
      .default("skip")
      .openapi({ description: "`skip` (default): no task for a slot while the schedule's previous task is still active; `queue`: a task for every slot" }),
    missed: z.enum(MISSED_POLICIES).default("latest").openapi({
      description: "slots that came while the schedule could not fire: `latest` (default) runs the latest of them once, never a burst; `skip` runs none",
    }),
  })
  .strict()
  .openapi("PutScheduleBody");
export type PutScheduleBody = z.infer<typeof PutScheduleBody>;

export const Schedule = z
  .object({
    name: z.string(),
    project: z.string(),
    cron: z.string(),
    timezone: z.string(),
    task: ScheduleTaskTemplate,
    enabled: z.boolean(),
    overlap: z.enum(OVERLAP_POLICIES),
    missed: z.enum(MISSED_POLICIES),
    createdAt: z.string(),
    updatedAt: z.string(),
    nextRunAt: z.string().nullable().openapi({ description: "the next slot (UTC), null while disabled" }),
  })
  .openapi("Schedule");
export type Schedule = z.infer<typeof Schedule>;

export const SCHEDULE_RUN_OUTCOMES = ["created", "skipped_overlap", "skipped_missed", "failed"] as const;
export const ScheduleRun = z
  .object({
    slot: z.string().openapi({ description: "the slot's instant (UTC)" }),
    firedAt: z.string(),
    outcome: z.enum(SCHEDULE_RUN_OUTCOMES),
    taskId: z.string().nullable().openapi({ description: "the task the slot made (`created`), or the still-active one it overlapped (`skipped_overlap`)" }),
    missed: z.number().int().openapi({ description: "earlier slots missed since the previous run, which made no task" }),
    error: z.string().optional(),
  })
  .openapi("ScheduleRun");
export type ScheduleRun = z.infer<typeof ScheduleRun>;

export const ScheduleRuns = z
  .object({
    runs: z.array(ScheduleRun).openapi({ description: "the last runs, newest first" }),
    next: z.array(z.string()).openapi({ description: `the next slots (UTC), at most ${MAX_SCHEDULE_NEXT_RUNS}; empty while disabled` }),
  })
  .openapi("ScheduleRuns");
export type ScheduleRuns = z.infer<typeof ScheduleRuns>;
