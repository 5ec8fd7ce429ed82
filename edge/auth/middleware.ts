// Authentication and rate limiting for every /v1 route, as middleware rather than copies in
// handlers. Bearer tokens are checked by signature plus the cached revocation list (no actor hop);
// rate limits are per token/runner/job, and per client IP only for requests that fail authentication.
import type { MiddlewareHandler } from "hono";
import { ApiError, allows, type Permission } from "../../protocol/index.ts";
import type { AppContext, AppEnv } from "../http.ts";
import { limitKey, type Caller } from "./caller.ts";
import { projectView } from "./project-view.ts";
import { safeEqual, verifyToken } from "../../common/tokens.ts";

function bearer(c: AppContext): string | null {
  const header = c.req.header("authorization");
  if (!header) return null;
  const m = /^Bearer\s+(\S+)\s*$/i.exec(header);
  return m ? m[1] : "";
}

/** Resolves the caller from `Authorization: Bearer …`; an absent header leaves the caller null. */
export async function callerFromToken(c: AppContext, token: string): Promise<Caller | null> {
  const env = c.env;
  const claims = await verifyToken(env.TOKEN_SIGNING_KEY, token);
  // Only a token that is not one of ours can be the admin token: signed tokens (nearly every call)
  // skip the comparison, which hashes both sides. Whether a token is signed does not depend on
  // ADMIN_TOKEN, so the order tells a caller nothing about it.
  if (!claims) return env.ADMIN_TOKEN && (await safeEqual(token, env.ADMIN_TOKEN)) ? { kind: "admin" } : null;
  switch (claims.k) {
    case "api": {
      const view = await projectView(env, claims.p);
      if (!view || view.revoked.has(claims.id)) return null;
      return { kind: "token", tokenId: claims.id, project: claims.p, role: claims.r };
    }
    case "rnr":
      // Runner revocation is checked by the dispatcher, which every runner call reaches anyway.
      return { kind: "runner", runnerId: claims.id, project: claims.p, pool: claims.pool };
    case "job":
      // The task actor checks the epoch on every job call; a job token dies with its lease.
      return { kind: "job", taskId: claims.t, project: claims.p, epoch: claims.ep };
    default:
      return null;
  }
}

export async function limitFailedAuth(c: AppContext): Promise<void> {
  // Cloudflare sets cf-connecting-ip on every request and overwrites any value a client sends.
  const ip = c.req.header("cf-connecting-ip") ?? "unknown";
  const { success } = await c.env.UNAUTH_LIMIT.limit({ key: ip });
  if (!success) throw new ApiError("rate_limited", "too many unauthenticated requests from this address", { retryAfter: 10 });
}

export const authenticate: MiddlewareHandler<AppEnv> = async (c, next) => {
  const token = bearer(c);
  if (token === null) {
    c.set("caller", null);
    return next();
  }
  const caller = token ? await callerFromToken(c, token) : null;
  if (!caller) {
    await limitFailedAuth(c);
    throw new ApiError("unauthenticated", "the bearer token is invalid, expired or revoked");
  }
  const { success } = await c.env.API_LIMIT.limit({ key: limitKey(caller) });
  if (!success) throw new ApiError("rate_limited", "rate limit exceeded for this token", { retryAfter: 10 });
  c.set("caller", caller);
  return next();
};

/** The caller, or 401. */
export async function requireCaller(c: AppContext): Promise<Caller> {
  const caller = c.get("caller");
  if (!caller) {
    await limitFailedAuth(c);
    throw new ApiError("unauthenticated", "this endpoint needs an Authorization: Bearer token");
  }
  return caller;
}

export async function requireAdmin(c: AppContext): Promise<void> {
  const caller = await requireCaller(c);
  if (caller.kind !== "admin") throw new ApiError("forbidden", "this endpoint needs the admin token");
}

/**
 * A project token allowed `permission` in `project`. Another project's token gets 404, never 403,
 * so nobody learns that a project exists; the right project with too small a role gets 403.
 */
export async function requireProjectToken(c: AppContext, permission: Permission, project?: string) {
  const caller = await requireCaller(c);
  if (caller.kind !== "token") throw new ApiError("forbidden", "this endpoint needs a project token");
  if (project !== undefined && caller.project !== project) throw new ApiError("not_found", "no such project");
  if (!allows(caller.role, permission)) throw new ApiError("forbidden", `the ${caller.role} role may not do this`);
  return caller;
}

/** A runner token (runner calls only); any other credential is 403. */
export async function requireRunner(c: AppContext): Promise<Extract<Caller, { kind: "runner" }>> {
  const caller = await requireCaller(c);
  if (caller.kind !== "runner") throw new ApiError("forbidden", "this endpoint needs a runner token");
  return caller;
}

/**
 * A job token for this task and lease epoch. Another task's job token gets 403 without the task
 * being looked up, so a token learns nothing about tasks that are not its own.
 */
export async function requireJob(c: AppContext, taskId: string, epoch: number): Promise<Extract<Caller, { kind: "job" }>> {
  const caller = await requireCaller(c);
  if (caller.kind !== "job") throw new ApiError("forbidden", "this endpoint needs the job token of the task's lease");
  if (caller.taskId !== taskId) throw new ApiError("forbidden", "this job token is for another task");
  if (caller.epoch !== epoch) throw new ApiError("forbidden", `this job token is for lease epoch ${caller.epoch}`, { field: "leaseEpoch" });
  return caller;
}
