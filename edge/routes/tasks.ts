// The task API that CLIs and CI jobs use: create, read (with long-poll and ETags), events, logs,
// cancel and list.
import { createRoute, z } from "@hono/zod-openapi";
import {
  ApiError,
  CreateTaskBody,
  DEFAULT_EVENTS_PAGE,
  DEFAULT_TASK_LIST,
  EventsPage,
  fromRpcError,
  MAX_EVENTS_PAGE,
  MAX_LONG_POLL_SECONDS,
  MAX_TASK_LIST,
  OrgAlias,
  Task,
  TaskList,
  TaskStatus,
  TaskType,
} from "../../protocol/index.ts";
import { requireProjectToken } from "../auth/middleware.ts";
import { taskActorOf } from "../auth/task-id.ts";
import { mintTaskId } from "../../common/task-ids.ts";
import { sha256Hex } from "../../common/tokens.ts";
import { projectStub } from "../../actors/env.ts";
import { LOG_PAGE_BYTES } from "../../actors/task-events.ts";
import { errorResponse } from "../http.ts";
import { bearerAuth, errors, json, jsonBody, router } from "../openapi.ts";
import { createTask, newTask } from "../new-task.ts";

export const tasks = router();

const ProjectParam = z.object({ project: z.string().min(1).max(64) });
const TaskParam = z.object({ id: z.string().min(1).max(64) });

tasks.openapi(
  createRoute({
    method: "post",
    path: "/v1/projects/{project}/tasks",
    summary: "Create a task (owner, member, ci); the same Idempotency-Key within 24 h answers the same task with 200",
    security: bearerAuth,
    request: {
      params: ProjectParam,
      headers: z.object({ "idempotency-key": z.string().min(1).max(255).optional() }),
      ...jsonBody(CreateTaskBody),
    },
    responses: {
      201: json(z.object({ task: Task }), "created"),
      200: json(z.object({ task: Task }), "already created with this Idempotency-Key"),
      ...errors(400, 401, 403, 404, 409, 413, 415, 429),
    },
  }),
  async (c) => {
    const { project } = c.req.valid("param");
    const caller = await requireProjectToken(c, "task:create", project);
    const body = c.req.valid("json");
    const key = c.req.valid("header")["idempotency-key"];
    const minted = await mintTaskId(c.env.TOKEN_SIGNING_KEY);
    const id = key ? await projectStub(c.env, project).claimIdempotencyKey(key, await sha256Hex(JSON.stringify(body)), minted) : minted;
    const input = await newTask(c.env, id, project, body, { kind: "api", tokenId: caller.tokenId });
    // Only a just-minted id is fresh: a retry's task may already be queued, running or finished.
    const { task, created } = await createTask(c.env, input, { fresh: id === minted });
    if (created) return c.json({ task }, 201);
    return c.json({ task }, 200);
  },
);

tasks.openapi(
  createRoute({
    method: "get",
    path: "/v1/projects/{project}/tasks",
    summary: "List the project's tasks, newest first; filter by status, type, org and source",
    security: bearerAuth,
    request: {
      params: ProjectParam,
      query: z.object({
        status: TaskStatus.optional(),
        type: TaskType.optional(),
        org: OrgAlias.optional(),
        source: z
          .string()
          .max(120)
          .regex(/^(api|webhook(:[A-Za-z0-9][A-Za-z0-9._-]{0,99})?)$/, "api, webhook or webhook:<source name>")
          .optional()
          .openapi({ description: "who made the task: `api`, `webhook`, or `webhook:<name>` for one webhook source" }),
        limit: z.coerce.number().int().min(1).max(MAX_TASK_LIST).default(DEFAULT_TASK_LIST),
        cursor: z.string().max(200).optional(),
      }),
    },
    responses: { 200: json(TaskList, "a page of tasks"), ...errors(400, 401, 403, 404, 429) },
  }),
  async (c) => {
    const { project } = c.req.valid("param");
    await requireProjectToken(c, "read", project);
    return c.json(await projectStub(c.env, project).listTasks(c.req.valid("query")), 200);
  },
);

tasks.openapi(
  createRoute({
    method: "get",
    path: "/v1/tasks/{id}",
    summary: "Read a task; `?wait=S&version=V` holds until its version passes V or S seconds pass; ETag/If-None-Match",
    security: bearerAuth,
    request: {
      params: TaskParam,
      query: z.object({
        wait: z.coerce.number().int().min(0).max(MAX_LONG_POLL_SECONDS).optional(),
        version: z.coerce.number().int().min(0).optional(),
      }),
    },
    responses: { 200: json(z.object({ task: Task }), "the task"), 304: { description: "not modified" }, ...errors(400, 401, 403, 404, 429) },
  }),
  async (c) => {
    const { id } = c.req.valid("param");
    const { wait, version } = c.req.valid("query");
    if (wait !== undefined && version === undefined) throw new ApiError("invalid_request", "version: required with wait", { field: "version" });
    const caller = await requireProjectToken(c, "read", undefined);
    const stub = await taskActorOf(c, id);
    let task: Task;
    try {
      task = await stub.get(caller.project, { afterVersion: version, waitSeconds: wait });
    } catch (err) {
      // An actor evicted or restarted while holding a long-poll drops the call: answer its state now.
      if (wait === undefined || fromRpcError(err)) throw err;
      task = await stub.get(caller.project);
    }
    const etag = `"v${task.version}"`;
    c.header("etag", etag);
    c.header("cache-control", "no-cache");
    if (wait === undefined && ifNoneMatch(c.req.header("if-none-match"), etag)) return c.body(null, 304);
    return c.json({ task }, 200);
  },
);

tasks.openapi(
  createRoute({
    method: "get",
    path: "/v1/tasks/{id}/events",
    summary: "The task's events after `after`, in seq order",
    security: bearerAuth,
    request: {
      params: TaskParam,
      query: z.object({
        after: z.coerce.number().int().min(0).default(0),
        limit: z.coerce.number().int().min(1).max(MAX_EVENTS_PAGE).default(DEFAULT_EVENTS_PAGE),
      }),
    },
    responses: { 200: json(EventsPage, "events"), ...errors(400, 401, 403, 404, 429) },
  }),
  async (c) => {
    const { id } = c.req.valid("param");
    const { after, limit } = c.req.valid("query");
    const caller = await requireProjectToken(c, "read", undefined);
    return c.json(await (await taskActorOf(c, id)).events(caller.project, after, limit), 200);
  },
);

const logsRoute = createRoute({
  method: "get",
  path: "/v1/tasks/{id}/logs",
  summary: "The task's log lines as text/plain; `Range: bytes=N-` answers 206 from byte N",
  description:
    `One answer carries at most ${LOG_PAGE_BYTES} bytes of log, ending at a line's end (or inside a line longer than that). ` +
    "When more remains the answer is 206 with `Content-Range: bytes N-M/TOTAL` even without a Range header: read on with `Range: bytes=M+1-`. " +
    "A Range starting at or past the end answers 416 with `Content-Range: bytes */TOTAL`.",
  security: bearerAuth,
  request: { params: TaskParam },
  responses: {
    200: { content: { "text/plain": { schema: z.string() } }, description: `the whole log (at most ${LOG_PAGE_BYTES} bytes)` },
    206: {
      content: { "text/plain": { schema: z.string() } },
      description: "from the requested byte on, or the first page of a longer log; Content-Range says which bytes",
    },
    ...errors(401, 403, 404, 416, 429),
  },
});
// Registered for the document, served as a plain route: the answer is text, not JSON.
tasks.openAPIRegistry.registerPath(logsRoute);
tasks.get("/v1/tasks/:id/logs", async (c) => {
  const id = c.req.param("id");
  const caller = await requireProjectToken(c, "read", undefined);
  const range = /^bytes=(\d+)-$/.exec(c.req.header("range")?.trim() ?? "");
  const from = range ? Number(range[1]) : 0;
  const { text, end, total } = await (await taskActorOf(c, id)).logs(caller.project, from);
  const headers = { "content-type": "text/plain; charset=utf-8", "accept-ranges": "bytes" };
  if (!range && end >= total) return c.body(text, 200, headers);
  if (from >= total && !(from === 0 && total === 0)) {
    c.header("content-range", `bytes */${total}`);
    return errorResponse(c, new ApiError("range_not_satisfiable", `the log has ${total} bytes`));
  }
  return c.body(text, 206, { ...headers, "content-range": `bytes ${from}-${Math.max(from, end - 1)}/${total}` });
});

tasks.openapi(
  createRoute({
    method: "post",
    path: "/v1/tasks/{id}/cancel",
    summary: "Cancel a task (owner, member): queued → canceled, running → canceling; 409 when finished",
    security: bearerAuth,
    request: { params: TaskParam },
    responses: { 202: json(z.object({ task: Task }), "accepted"), ...errors(401, 403, 404, 409, 429) },
  }),
  async (c) => {
    const { id } = c.req.valid("param");
    const caller = await requireProjectToken(c, "task:cancel", undefined);
    const task: Task = await (await taskActorOf(c, id)).cancel(caller.project);
    return c.json({ task }, 202);
  },
);

function ifNoneMatch(header: string | undefined, etag: string): boolean {
  if (!header) return false;
  return header.split(",").some((t) => t.trim().replace(/^W\//, "") === etag || t.trim() === "*");
}
