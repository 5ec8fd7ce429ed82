// The contract's error answers and the request id every answer carries, in one place.
import type { Context } from "hono";
import { HTTPException } from "hono/http-exception";
import { ApiError, ERROR_STATUS, fromRpcError, type ErrorBody, type ErrorCode } from "../protocol/index.ts";
import type { Caller } from "./auth/caller.ts";
import type { Env } from "../actors/env.ts";

export interface AppEnv {
  Bindings: Env;
  Variables: { requestId: string; caller: Caller | null };
}
export type AppContext = Context<AppEnv>;

export function requestIdOf(c: Context): string {
  return (c.get("requestId" as never) as string | undefined) ?? c.req.header("cf-ray") ?? "";
}

export function errorBody(code: ErrorCode, message: string, requestId: string, field?: string): ErrorBody {
  return { error: { code, message, requestId, ...(field ? { field } : {}) } };
}

export function errorResponse(c: Context, err: ApiError): Response {
  const headers: Record<string, string> = {};
  if (err.retryAfter !== undefined) headers["retry-after"] = String(Math.max(1, Math.ceil(err.retryAfter)));
  return c.json(errorBody(err.code, err.message, requestIdOf(c), err.field), err.status, headers);
}

/** app.onError: our ApiErrors (also those that crossed an actor RPC) keep their status; the rest are 500s. */
export function onError(err: Error, c: Context): Response {
  const api = fromRpcError(err);
  if (api) return errorResponse(c, api);
  if (err instanceof HTTPException) {
    const status = err.status as number;
    if (status === 400) return errorResponse(c, new ApiError("invalid_json", "the request body is not valid JSON"));
    if (status === 413) return errorResponse(c, new ApiError("too_large", "the request body is too large"));
    const code = (Object.keys(ERROR_STATUS) as ErrorCode[]).find((k) => ERROR_STATUS[k] === status) ?? "internal";
    return errorResponse(c, new ApiError(code, err.message || "request refused"));
  }
  // A hook URL is a credential for some senders: the path is logged without it.
  const path = new URL(c.req.url).pathname.replace(/^\/v1\/hooks\/.*/, "/v1/hooks/…");
  console.log(JSON.stringify({ level: "error", msg: "unhandled error", requestId: requestIdOf(c), path, error: String(err?.stack ?? err) }));
  return c.json(errorBody("internal", "internal error; quote the requestId when reporting it", requestIdOf(c)), 500);
}

/** Formats a zod issue path as the field name clients see: `labels[2]`, `payload.zip`. */
export function fieldName(path: readonly PropertyKey[]): string {
  let out = "";
  for (const p of path) out += typeof p === "number" ? `[${p}]` : out ? `.${String(p)}` : String(p);
  return out;
}
