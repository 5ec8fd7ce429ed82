import { createRoute, z } from "@hono/zod-openapi";
import { VERSION } from "../version.ts";
import { errors, json, router } from "../openapi.ts";

export const system = router();

system.openapi(
  createRoute({
    method: "get",
    path: "/healthz",
    summary: "Liveness, without auth",
    description:
      "Answers 503 `misconfigured`, naming what is missing, when a required Worker secret (TOKEN_SIGNING_KEY, ADMIN_TOKEN) is unset or shorter than 16 characters; every other route answers the same.",
    responses: { 200: json(z.object({ ok: z.literal(true), version: z.string() }), "alive"), ...errors(503) },
  }),
  (c) => c.json({ ok: true as const, version: VERSION }, 200),
);
