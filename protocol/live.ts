// The live view's messages (issue 16): what a runner reports of its load, the `runner` message of the
// project feed, the `resources` message of a task socket, and the feed's `reset`. Additive to the
// ServerMessage union in task.ts; the dashboard and the CLI read exactly these shapes.
import { z } from "@hono/zod-openapi";

/** One job's worker process as the manager last sampled it. */
export const JobLoad = z
  .object({
    taskId: z.string(),
    cpuPercent: z.number().min(0).max(100_000),
    memoryRssBytes: z.number().int().min(0),
  })
  .openapi("JobLoad");
export type JobLoad = z.infer<typeof JobLoad>;

/** The container's cgroup v2 usage and limits, where the manager runs in one (each field when readable). */
export const CgroupLoad = z
  .object({
    cpuUsageUsec: z.number().int().min(0).optional(),
    cpuLimitCores: z.number().min(0).optional(),
    memoryCurrentBytes: z.number().int().min(0).optional(),
    memoryMaxBytes: z.number().int().min(0).optional(),
  })
  .openapi("CgroupLoad");
export type CgroupLoad = z.infer<typeof CgroupLoad>;

/** What a runner heartbeat adds to `resources` (all optional: older managers send none of it). */
export const RunnerLoadReport = {
  jobs: z.array(JobLoad).max(64).optional(),
  cgroup: CgroupLoad.optional(),
};

/** A runner's load as the project feed pushes it (`{type:"runner", runner}`). */
export const RunnerLoad = z
  .object({
    id: z.string(),
    name: z.string().optional(),
    pool: z.string(),
    status: z.string().openapi({ description: "idle, busy or draining, as the runner reported it" }),
    at: z.string(),
    cpuPercent: z.number(),
    memoryRssBytes: z.number().int(),
    slots: z.number().int(),
    freeSlots: z.number().int(),
    jobs: z.array(JobLoad),
    cgroup: CgroupLoad.optional(),
  })
  .openapi("RunnerLoad");
export type RunnerLoad = z.infer<typeof RunnerLoad>;

/** A task's peak worker load, kept on its record once its runner reported any. */
export const TaskResources = z
  .object({ peakCpuPercent: z.number(), peakMemoryRssBytes: z.number().int(), at: z.string() })
  .openapi("TaskResources", { description: "the highest CPU % and RSS its worker was sampled at, and when it was last sampled" });
export type TaskResources = z.infer<typeof TaskResources>;

/** A job heartbeat's optional sample of its worker process. */
export const JobSample = z.object({ cpuPercent: z.number().min(0).max(100_000), memoryRssBytes: z.number().int().min(0) }).openapi("JobSample");
export type JobSample = z.infer<typeof JobSample>;

/** The live messages the project feed and a task socket add to ServerMessage. */
export type LiveMessage =
  | { type: "runner"; seq: number; runner: RunnerLoad }
  | {
      type: "resources";
      taskId: string;
      at: string;
      cpuPercent: number;
      memoryRssBytes: number;
      peakCpuPercent: number;
      peakMemoryRssBytes: number;
    }
  // The feed could not replay from the `after` asked for (past the window): list again, then go on from lastSeq.
  | { type: "reset"; lastSeq: number };
