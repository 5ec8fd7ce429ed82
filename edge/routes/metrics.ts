// The edge's counters for a self-hosted Prometheus scrape (issue 16): GET /v1/admin/metrics with the
// admin token answers the MetricsActor's durable counts (actors/metrics-actor.ts) as Prometheus text.
import { createRoute, z } from "@hono/zod-openapi";
import { metricsStub } from "../../actors/metrics.ts";
import { requireAdmin } from "../auth/middleware.ts";
import { bearerAuth, errors, router } from "../openapi.ts";

export const metrics = router();

const PROMETHEUS_TEXT = "text/plain; version=0.0.4; charset=utf-8";

metrics.openapi(
  createRoute({
    method: "get",
    path: "/v1/admin/metrics",
    summary: "The edge's counters and gauges as Prometheus text (admin)",
    description:
      "Webhook deliveries by source kind and answer, tasks created by type and finished by type and outcome, queue depth and age per pool, lease lapses, " +
      "and WebSockets opened, closed and open by kind; kept in one actor's storage, so every edge answers the same counts.",
    security: bearerAuth,
    responses: {
      200: {
        content: { "text/plain": { schema: z.string().openapi({ description: "Prometheus text exposition format 0.0.4" }) } },
        description: "the metrics",
      },
      ...errors(401, 403, 429),
    },
  }),
  async (c) => {
    await requireAdmin(c);
    return c.text(await metricsStub(c.env).render(), 200, { "content-type": PROMETHEUS_TEXT });
  },
);
