// Live updates: the edge authenticates the upgrade (Authorization header, or a single-use ?ticket=
// for browsers) and forwards it to the actor, which accepts it with the Hibernation API. hono's
// upgradeWebSocket would keep the socket in the Worker, where it cannot hibernate.
import { ApiError } from "../../protocol/index.ts";
import {
  FORWARD_AFTER_HEADER,
  FORWARD_BATCH_HEADER,
  FORWARD_PROJECT_HEADER,
  FORWARD_REQUEST_ID_HEADER,
  FORWARD_TOKEN_HEADER,
  isUpgrade,
} from "../../actors/sockets.ts";
import { limitFailedAuth, requireProjectToken } from "../auth/middleware.ts";
import { verifyToken } from "../../common/tokens.ts";
import { projectStub } from "../../actors/env.ts";
import { count } from "../../actors/metrics.ts";
import { taskActorOf } from "../auth/task-id.ts";
import { requestIdOf, type AppContext } from "../http.ts";
import { router } from "../openapi.ts";

export const ws = router();

/**
 * The project the caller may watch and the token it watches with: from the bearer token, or from a
 * ticket used for the first time while the token it was minted for is neither revoked nor expired.
 */
async function watcher(c: AppContext): Promise<{ project: string; tokenId: string }> {
  const ticket = c.req.query("ticket");
  if (ticket === undefined) return requireProjectToken(c, "read", undefined);
  const claims = await verifyToken(c.env.TOKEN_SIGNING_KEY, ticket);
  const tokenId = claims?.k === "wst" ? await projectStub(c.env, claims.p).consumeTicket(claims.id) : null;
  if (claims?.k !== "wst" || !tokenId) {
    await limitFailedAuth(c);
    throw new ApiError("unauthenticated", "the ticket is invalid, expired or already used, or its token was revoked");
  }
  return { project: claims.p, tokenId };
}

function forward(c: AppContext, { project, tokenId }: { project: string; tokenId: string }): Request {
  const headers = new Headers(c.req.raw.headers);
  headers.set(FORWARD_PROJECT_HEADER, project);
  headers.set(FORWARD_TOKEN_HEADER, tokenId);
  headers.set(FORWARD_REQUEST_ID_HEADER, requestIdOf(c));
  headers.delete(FORWARD_AFTER_HEADER);
  const after = c.req.query("after");
  if (after !== undefined && /^\d+$/.test(after)) headers.set(FORWARD_AFTER_HEADER, after);
  headers.delete(FORWARD_BATCH_HEADER);
  if (c.req.query("batch") === "1") headers.set(FORWARD_BATCH_HEADER, "1");
  return new Request(c.req.raw.url, { method: "GET", headers });
}

/** Counts an accepted socket (actors count the closes: actors/metrics-actor.ts "sfp_sockets_open"). */
function opened(c: AppContext, kind: "task" | "project", res: Response): Response {
  if (res.status === 101) c.executionCtx.waitUntil(count(c.env, "sfp_sockets_opened_total", { kind }));
  return res;
}

function requireUpgrade(c: AppContext): void {
  if (!isUpgrade(c.req.raw)) throw new ApiError("invalid_request", "this endpoint takes a WebSocket upgrade (Upgrade: websocket)");
}

ws.get("/v1/tasks/:id/ws", async (c) => {
  requireUpgrade(c);
  const who = await watcher(c);
  return opened(c, "task", await (await taskActorOf(c, c.req.param("id"))).fetch(forward(c, who)));
});

ws.get("/v1/projects/:project/ws", async (c) => {
  requireUpgrade(c);
  const who = await watcher(c);
  if (who.project !== c.req.param("project")) throw new ApiError("not_found", "no such project");
  return opened(c, "project", await projectStub(c.env, who.project).fetch(forward(c, who)));
});
