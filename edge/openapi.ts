// Helpers for declaring routes once: the same zod schemas validate requests and generate
// GET /v1/openapi.json.
import { OpenAPIHono, z } from "@hono/zod-openapi";
import { ApiError } from "../protocol/index.ts";
import { errorResponse, fieldName, type AppEnv } from "./http.ts";

export const ErrorSchema = z
  .object({ error: z.object({ code: z.string(), message: z.string(), requestId: z.string(), field: z.string().optional() }) })
  .openapi("Error");

export const json = <T extends z.ZodType>(schema: T, description: string) => ({
  content: { "application/json": { schema } },
  description,
});

export const jsonBody = <T extends z.ZodType>(schema: T) => ({
  body: { content: { "application/json": { schema } }, required: true },
});

/** Error answers a route may give, for the document. */
export const errors = (...statuses: number[]) => Object.fromEntries(statuses.map((s) => [s, json(ErrorSchema, `error (${s})`)]));

export const bearerAuth = [{ bearer: [] as string[] }];

/** A router whose validation failures answer 400 in the contract's shape, naming the field. */
export function router() {
  return new OpenAPIHono<AppEnv>({
    defaultHook: (result, c) => {
      if (result.success) return;
      const issue = result.error.issues[0];
      const field = fieldName(issue?.path ?? []) || result.target;
      return errorResponse(c, new ApiError("invalid_request", `${field}: ${issue?.message ?? "invalid"}`, { field }));
    },
  });
}
