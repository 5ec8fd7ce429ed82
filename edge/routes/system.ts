import { createRoute, z } from "@hono/zod-openapi";
import { VERSION } from "../version.ts";
import { json, router } from "../openapi.ts";

export const system = router();

system.openapi(
  createRoute({
    method: "get",
    path: "/healthz",
    summary: "Liveness, without auth",
    responses: { 200: json(z.object({ ok: z.literal(true), version: z.string() }), "alive") },
  }),
  (c) => c.json({ ok: true as const, version: VERSION }, 200),
);
