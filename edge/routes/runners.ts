// The runner side of the runner protocol (docs/API.md "Runner protocol"): registration tokens and registration,
// long-poll, runner heartbeats and deregistration, and the owner's view of the project's runners.
import { createRoute, z } from "@hono/zod-openapi";
import {
  ApiError,
  CreateRegistrationTokenBody,
  fromRpcError,
  LEASE_RENEWALS_PER_LEASE,
  MAX_RUNNER_POLL_SECONDS,
  newId,
  PollAnswer,
  PollBody,
  RegisterBody,
  Registered,
  RegistrationToken,
  RunnerHeartbeatAnswer,
  RunnerHeartbeatBody,
  RunnerInfo,
  type Assignment,
} from "../../protocol/index.ts";
import { limitFailedAuth, requireProjectToken, requireRunner } from "../auth/middleware.ts";
import { sha256Hex, signToken, verifyToken } from "../../common/tokens.ts";
import { timings } from "../../common/timings.ts";
import { dispatcherStub, projectStub } from "../../actors/env.ts";
import { requestIdOf } from "../http.ts";
import { bearerAuth, errors, json, jsonBody, router } from "../openapi.ts";

export const runners = router();

const ProjectParam = z.object({ project: z.string().min(1).max(64) });
const RunnerParam = ProjectParam.extend({ id: z.string().min(1).max(64) });

runners.openapi(
  createRoute({
    method: "post",
    path: "/v1/projects/{project}/registration-tokens",
    summary: "Create a runner registration token for a pool (owner); default one use, valid 1 h; shown once",
    security: bearerAuth,
    request: { params: ProjectParam, ...jsonBody(CreateRegistrationTokenBody) },
    responses: { 201: json(RegistrationToken, "created"), ...errors(400, 401, 403, 404, 415, 429) },
  }),
  async (c) => {
    const { project } = c.req.valid("param");
    await requireProjectToken(c, "project:admin", project);
    return c.json(await projectStub(c.env, project).createRegistrationToken(c.req.valid("json")), 201);
  },
);

runners.openapi(
  createRoute({
    method: "post",
    path: "/v1/runners/register",
    summary: "Register a runner with a registration token (in the body); answers its runner token, shown once",
    description:
      "The runner gets exactly the registration token's labels. `labels` may repeat some of them; a label the token does not grant is 403 `forbidden` (field `labels`) and spends no use.",
    request: jsonBody(RegisterBody),
    responses: { 201: json(Registered, "registered"), ...errors(400, 401, 403, 415, 429) },
  }),
  async (c) => {
    const body = c.req.valid("json");
    const claims = await verifyToken(c.env.TOKEN_SIGNING_KEY, body.registrationToken);
    const refuse = async () => {
      await limitFailedAuth(c);
      return new ApiError("unauthenticated", "the registration token is invalid, used up or expired");
    };
    if (claims?.k !== "reg") throw await refuse();
    const runnerId = newId("rnr");
    let granted: { pool: string; labels: string[] };
    try {
      granted = await projectStub(c.env, claims.p).redeemRegistrationToken(claims.id, await sha256Hex(body.registrationToken), runnerId, body.labels);
    } catch (err) {
      const api = fromRpcError(err);
      // A deleted project's tokens are as dead as used ones.
      if (api?.code === "not_found") throw await refuse();
      if (api?.code === "forbidden") throw new ApiError("forbidden", api.message, { field: "labels" });
      throw err;
    }
    const { pool } = granted;
    // Only the token's labels: a runner that could name its own would take tasks meant for others.
    const labels = [...new Set(granted.labels)].sort();
    await dispatcherStub(c.env, claims.p, pool).registerRunner(claims.p, pool, {
      id: runnerId,
      name: body.name,
      labels,
      slots: body.slots,
      ephemeral: body.ephemeral,
      version: body.version,
    });
    const runnerToken = await signToken(c.env.TOKEN_SIGNING_KEY, { k: "rnr", id: runnerId, p: claims.p, pool });
    const t = timings(c.env);
    const settings = {
      pollWaitSeconds: Math.min(MAX_RUNNER_POLL_SECONDS, t.pollWaitSeconds),
      // A third of the lease, so that two missed heartbeats still leave the lease alive.
      heartbeatSeconds: Math.max(1, Math.floor(t.leaseSeconds / LEASE_RENEWALS_PER_LEASE)),
      leaseSeconds: t.leaseSeconds,
    };
    return c.json({ runnerId, runnerToken, project: claims.p, pool, settings }, 201);
  },
);

runners.openapi(
  createRoute({
    method: "post",
    path: "/v1/runners/poll",
    summary: "Long-poll for work (runner): assignments as soon as there are any, or 204 after waitSeconds",
    security: bearerAuth,
    request: jsonBody(PollBody),
    responses: {
      200: json(PollAnswer, "assignments to accept before acceptBy"),
      204: { description: "nothing within the wait" },
      ...errors(400, 401, 403, 415, 429),
    },
  }),
  async (c) => {
    const runner = await requireRunner(c);
    const { freeSlots, waitSeconds } = c.req.valid("json");
    const wait = Math.min(waitSeconds, timings(c.env).pollWaitSeconds);
    let assignments: Assignment[];
    try {
      assignments = await dispatcherStub(c.env, runner.project, runner.pool).poll(runner.runnerId, freeSlots, wait);
    } catch (err) {
      if (fromRpcError(err)) throw err;
      // The dispatcher was evicted or restarted while the poll was parked: ask the fresh one once,
      // without waiting, so the runner gets what is there now (or a clean 204 and polls again).
      console.log(
        JSON.stringify({ level: "warn", msg: "parked poll dropped; asking again", runnerId: runner.runnerId, requestId: requestIdOf(c), error: String(err) }),
      );
      assignments = await dispatcherStub(c.env, runner.project, runner.pool).poll(runner.runnerId, freeSlots, 0);
    }
    if (!assignments.length) return c.body(null, 204);
    return c.json({ assignments }, 200);
  },
);

runners.openapi(
  createRoute({
    method: "post",
    path: "/v1/runners/heartbeat",
    summary: "A runner's heartbeat with its state and resources (runner); answers actions such as cancel or drain",
    security: bearerAuth,
    request: jsonBody(RunnerHeartbeatBody),
    responses: { 200: json(RunnerHeartbeatAnswer, "actions for the runner"), ...errors(400, 401, 403, 415, 429) },
  }),
  async (c) => {
    const runner = await requireRunner(c);
    const actions = await dispatcherStub(c.env, runner.project, runner.pool).heartbeat(runner.runnerId, c.req.valid("json"));
    return c.json({ actions }, 200);
  },
);

runners.openapi(
  createRoute({
    method: "delete",
    path: "/v1/runners/self",
    summary: "Deregister this runner (runner); its leases go back to the queue",
    security: bearerAuth,
    responses: { 204: { description: "deregistered" }, ...errors(401, 403, 429) },
  }),
  async (c) => {
    const runner = await requireRunner(c);
    await dispatcherStub(c.env, runner.project, runner.pool).deregister(runner.runnerId);
    return c.body(null, 204);
  },
);

runners.openapi(
  createRoute({
    method: "get",
    path: "/v1/projects/{project}/runners",
    summary: "The project's registered runners in every pool, with state, last seen and resources (owner)",
    security: bearerAuth,
    request: { params: ProjectParam },
    responses: { 200: json(z.object({ runners: z.array(RunnerInfo) }), "runners"), ...errors(401, 403, 404, 429) },
  }),
  async (c) => {
    const { project } = c.req.valid("param");
    await requireProjectToken(c, "project:admin", project);
    const pools = await projectStub(c.env, project).runnerPools();
    const lists = await Promise.all(pools.map((pool) => dispatcherStub(c.env, project, pool).listRunners()));
    return c.json({ runners: lists.flat() }, 200);
  },
);

runners.openapi(
  createRoute({
    method: "delete",
    path: "/v1/projects/{project}/runners/{id}",
    summary: "Revoke a runner (owner): its next call answers 401 and its leases go back to the queue",
    security: bearerAuth,
    request: { params: RunnerParam },
    responses: { 204: { description: "revoked" }, ...errors(401, 403, 404, 429) },
  }),
  async (c) => {
    const { project, id } = c.req.valid("param");
    await requireProjectToken(c, "project:admin", project);
    const stub = projectStub(c.env, project);
    const pool = await stub.runnerPool(id);
    await dispatcherStub(c.env, project, pool).revoke(id);
    await stub.runnerRevoked(id);
    return c.body(null, 204);
  },
);

runners.openapi(
  createRoute({
    method: "post",
    path: "/v1/projects/{project}/runners/{id}/drain",
    summary: "Ask a runner to drain (owner): it is offered no more work and its next heartbeat answer says drain",
    security: bearerAuth,
    request: { params: RunnerParam },
    responses: { 204: { description: "drain requested" }, ...errors(401, 403, 404, 429) },
  }),
  async (c) => {
    const { project, id } = c.req.valid("param");
    await requireProjectToken(c, "project:admin", project);
    const pool = await projectStub(c.env, project).runnerPool(id);
    await dispatcherStub(c.env, project, pool).requestDrain(id);
    return c.body(null, 204);
  },
);
