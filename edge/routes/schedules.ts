// Schedules (issue 15; docs/API.md "Schedules"): the owner writes them, every project role reads them.
// Each lives in its own ScheduleActor (actors/schedule-actor.ts); the project's list of names in a
// ScheduleListActor. The edge checks the cron, the timezone and the task template before either hears of it.
import { createRoute, z } from "@hono/zod-openapi";
import { scheduleListStub, scheduleStub } from "../../actors/env.ts";
import { cronOf } from "../../actors/schedule-cron.ts";
import {
  ApiError,
  fromRpcError,
  MAX_SCHEDULE_NEXT_RUNS,
  MAX_SCHEDULE_RUNS_KEPT,
  PutScheduleBody,
  Schedule,
  ScheduleName,
  ScheduleRuns,
} from "../../protocol/index.ts";
import { requireProjectToken } from "../auth/middleware.ts";
import { newTask } from "../new-task.ts";
import { bearerAuth, errors, json, jsonBody, router } from "../openapi.ts";

export const schedules = router();

const ProjectParam = z.object({ project: z.string().min(1).max(64) });
const ScheduleParam = ProjectParam.extend({ name: ScheduleName });
const BASE = "/v1/projects/{project}/schedules";

schedules.openapi(
  createRoute({
    method: "put",
    path: `${BASE}/{name}`,
    summary: "Create or replace a schedule (owner): a cron in a timezone, the task each slot makes, its overlap and missed-slot policies",
    security: bearerAuth,
    request: { params: ScheduleParam, ...jsonBody(PutScheduleBody) },
    responses: {
      201: json(z.object({ schedule: Schedule }), "created"),
      200: json(z.object({ schedule: Schedule }), "replaced"),
      ...errors(400, 401, 403, 404, 409, 413, 415, 429),
    },
  }),
  async (c) => {
    const { project, name } = c.req.valid("param");
    const caller = await requireProjectToken(c, "project:admin", project);
    const body = c.req.valid("json");
    cronOf(body.cron, body.timezone);
    // The template meets the task API's own checks (a registered org, the payload limit), naming `task.<field>`.
    try {
      await newTask(c.env, "", project, body.task, { kind: "api", tokenId: caller.tokenId });
    } catch (err) {
      const known = fromRpcError(err);
      if (!known?.field) throw err;
      throw new ApiError(known.code, `task.${known.message}`, { field: `task.${known.field}` });
    }
    await scheduleListStub(c.env, project).add(name);
    // Typed here: the RPC stub's inferred type loses the template's free-form payload.
    const { schedule, created }: { schedule: Schedule; created: boolean } = await scheduleStub(c.env, project, name).put(project, name, body);
    return c.json({ schedule }, created ? 201 : 200);
  },
);

schedules.openapi(
  createRoute({
    method: "get",
    path: BASE,
    summary: "List the project's schedules with their next run",
    security: bearerAuth,
    request: { params: ProjectParam },
    responses: { 200: json(z.object({ schedules: z.array(Schedule) }), "the schedules, by name"), ...errors(401, 403, 404, 429) },
  }),
  async (c) => {
    const { project } = c.req.valid("param");
    await requireProjectToken(c, "read", project);
    const names = await scheduleListStub(c.env, project).names();
    const found = await Promise.all(
      names.map(async (name): Promise<Schedule | null> => {
        try {
          const schedule: Schedule = await scheduleStub(c.env, project, name).read(project);
          return schedule;
        } catch (err) {
          // A name whose PUT failed after it was listed has no schedule behind it.
          if (fromRpcError(err)?.code === "not_found") return null;
          throw err;
        }
      }),
    );
    return c.json({ schedules: found.filter((s): s is Schedule => s !== null) }, 200);
  },
);

schedules.openapi(
  createRoute({
    method: "get",
    path: `${BASE}/{name}`,
    summary: "Read a schedule with its next run",
    security: bearerAuth,
    request: { params: ScheduleParam },
    responses: { 200: json(z.object({ schedule: Schedule }), "the schedule"), ...errors(401, 403, 404, 429) },
  }),
  async (c) => {
    const { project, name } = c.req.valid("param");
    await requireProjectToken(c, "read", project);
    const schedule: Schedule = await scheduleStub(c.env, project, name).read(project);
    return c.json({ schedule }, 200);
  },
);

schedules.openapi(
  createRoute({
    method: "delete",
    path: `${BASE}/{name}`,
    summary: "Delete a schedule (owner); the tasks it made stay",
    security: bearerAuth,
    request: { params: ScheduleParam },
    responses: { 204: { description: "deleted" }, ...errors(401, 403, 404, 429) },
  }),
  async (c) => {
    const { project, name } = c.req.valid("param");
    await requireProjectToken(c, "project:admin", project);
    await scheduleStub(c.env, project, name).remove(project);
    await scheduleListStub(c.env, project).remove(name);
    return c.body(null, 204);
  },
);

schedules.openapi(
  createRoute({
    method: "get",
    path: `${BASE}/{name}/runs`,
    summary: "A schedule's last runs (newest first, with their task ids) and its next slots",
    security: bearerAuth,
    request: {
      params: ScheduleParam,
      query: z.object({
        limit: z.coerce.number().int().min(1).max(MAX_SCHEDULE_RUNS_KEPT).default(20),
        next: z.coerce.number().int().min(0).max(MAX_SCHEDULE_NEXT_RUNS).default(5),
      }),
    },
    responses: { 200: json(ScheduleRuns, "runs and next slots"), ...errors(400, 401, 403, 404, 429) },
  }),
  async (c) => {
    const { project, name } = c.req.valid("param");
    const { limit, next } = c.req.valid("query");
    await requireProjectToken(c, "read", project);
    return c.json(await scheduleStub(c.env, project, name).runs(project, limit, next), 200);
  },
);
