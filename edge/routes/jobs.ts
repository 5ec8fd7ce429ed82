// The job side of the runner protocol (docs/API.md "Runner protocol"): a runner accepts an assignment and gets a job
// token bound to the task and the lease epoch; with it, it renews the lease, posts events and
// finishes. The task's own actor answers all of them; the edge only checks who may ask.
import { createRoute, z } from "@hono/zod-openapi";
import {
  AcceptBody,
  Accepted,
  ApiError,
  FinishBody,
  JobEventsAnswer,
  JobEventsBody,
  JobHeartbeatAnswer,
  JobHeartbeatBody,
  Task,
} from "../../protocol/index.ts";
import { requireJob, requireRunner } from "../auth/middleware.ts";
import { dispatcherStub } from "../../actors/env.ts";
import { genuineTaskId, taskActorOf } from "../auth/task-id.ts";
import { bearerAuth, errors, json, jsonBody, router } from "../openapi.ts";

export const jobs = router();

const TaskParam = z.object({ taskId: z.string().min(1).max(64) });

jobs.openapi(
  createRoute({
    method: "post",
    path: "/v1/jobs/{taskId}/accept",
    summary: "Accept an assignment (runner): the lease and its job token; the same assignment again answers the same lease",
    description: "409 when the assignment expired or the task is taken; 410 when the task was canceled.",
    security: bearerAuth,
    request: { params: TaskParam, ...jsonBody(AcceptBody) },
    responses: { 200: json(Accepted, "the lease"), ...errors(400, 401, 403, 409, 410, 415, 429) },
  }),
  async (c) => {
    const runner = await requireRunner(c);
    const { taskId } = c.req.valid("param");
    const { assignmentId } = c.req.valid("json");
    // No assignment can name a task this deployment never minted: the dispatcher's own answer, without asking it.
    if (!(await genuineTaskId(c, taskId))) throw new ApiError("assignment_expired", "no such assignment for this runner");
    const accepted: Accepted = await dispatcherStub(c.env, runner.project, runner.pool).accept(runner.runnerId, taskId, assignmentId);
    return c.json(accepted, 200);
  },
);

jobs.openapi(
  createRoute({
    method: "post",
    path: "/v1/jobs/{taskId}/heartbeat",
    summary: "Renew the lease (job token); answers whether a client asked to cancel",
    description: "409 when the lease is no longer this epoch's; 410 when the task is finished.",
    security: bearerAuth,
    request: { params: TaskParam, ...jsonBody(JobHeartbeatBody) },
    responses: { 200: json(JobHeartbeatAnswer, "renewed"), ...errors(400, 401, 403, 409, 410, 415, 429) },
  }),
  async (c) => {
    const { taskId } = c.req.valid("param");
    const { leaseEpoch, resources } = c.req.valid("json");
    const job = await requireJob(c, taskId, leaseEpoch);
    return c.json(await (await taskActorOf(c, taskId)).jobHeartbeat(job.project, leaseEpoch, resources), 200);
  },
);

jobs.openapi(
  createRoute({
    method: "post",
    path: "/v1/jobs/{taskId}/events",
    summary: "Post progress and log events (job token), numbered 1, 2, … per lease; answers the highest contiguous seq stored",
    description:
      "Seqs already stored are ignored; after a gap only the contiguous prefix is stored, so resend from ackedSeq+1. 409 for a stale epoch, 410 once finished.",
    security: bearerAuth,
    request: { params: TaskParam, ...jsonBody(JobEventsBody) },
    responses: { 200: json(JobEventsAnswer, "acknowledged"), ...errors(400, 401, 403, 409, 410, 413, 415, 429) },
  }),
  async (c) => {
    const { taskId } = c.req.valid("param");
    const { leaseEpoch, events } = c.req.valid("json");
    const job = await requireJob(c, taskId, leaseEpoch);
    return c.json(await (await taskActorOf(c, taskId)).jobEvents(job.project, leaseEpoch, events), 200);
  },
);

jobs.openapi(
  createRoute({
    method: "post",
    path: "/v1/jobs/{taskId}/finish",
    summary: "Finish the job (job token) with its outcome; the same finish again answers the same task",
    description: "409 for a stale epoch, for a different finish of the same lease, and for outcome canceled when no cancel was requested.",
    security: bearerAuth,
    request: { params: TaskParam, ...jsonBody(FinishBody) },
    responses: { 200: json(z.object({ task: Task }), "finished"), ...errors(400, 401, 403, 409, 410, 415, 429) },
  }),
  async (c) => {
    const { taskId } = c.req.valid("param");
    const body = c.req.valid("json");
    const job = await requireJob(c, taskId, body.leaseEpoch);
    const task: Task = await (await taskActorOf(c, taskId)).jobFinish(job.project, body.leaseEpoch, body);
    return c.json({ task }, 200);
  },
);
