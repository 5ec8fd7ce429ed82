// The edge Worker's app: middleware, then the route groups, then the contract document.
import { bodyLimit } from "hono/body-limit";
import { ApiError, MAX_API_BODY_BYTES, newId } from "../protocol/index.ts";
import { authenticate } from "./auth/middleware.ts";
import { configProblems } from "./config.ts";
import { VERSION } from "./version.ts";
import { errorResponse, onError } from "./http.ts";
import { router } from "./openapi.ts";
import { artifacts, isArtifactUpload } from "./routes/artifacts.ts";
import { approvals } from "./routes/approvals.ts";
import { eventSubscriptions } from "./routes/event-subscriptions.ts";
import { eventSubscriptionsRunner } from "./routes/event-subscriptions-runner.ts";
import { jobs } from "./routes/jobs.ts";
import { metrics } from "./routes/metrics.ts";
import { notifications } from "./routes/notifications.ts";
import { projects } from "./routes/projects.ts";
import { runners } from "./routes/runners.ts";
import { schedules } from "./routes/schedules.ts";
import { system } from "./routes/system.ts";
import { tasks } from "./routes/tasks.ts";
import { webhooks } from "./routes/webhooks.ts";
import { ws } from "./routes/ws.ts";

export const app = router();

app.use("*", async (c, next) => {
  c.set("requestId", c.req.header("cf-ray") ?? newId("req"));
  await next();
  c.header("x-request-id", c.get("requestId"));
});

// Before anything reads a secret: a deployment without one answers every request with the reason.
app.use("*", async (c, next) => {
  const problems = configProblems(c.env);
  if (problems.length === 0) return next();
  console.log(JSON.stringify({ level: "error", msg: "the deployment is misconfigured", requestId: c.get("requestId"), problems }));
  return errorResponse(c, new ApiError("misconfigured", `the deployment is misconfigured: ${problems.join("; ")}`));
});

app.use("/v1/*", async (c, next) => {
  if (c.req.path.startsWith("/v1/hooks/")) return next();
  return authenticate(c, next);
});

const apiBodyLimit = bodyLimit({
  maxSize: MAX_API_BODY_BYTES,
  onError: (c) => errorResponse(c, new ApiError("too_large", `request bodies are limited to ${MAX_API_BODY_BYTES} bytes`)),
});
app.use("/v1/*", async (c, next) => {
  if (c.req.path.startsWith("/v1/hooks/")) return next();
  // An artifact upload streams up to its own limits (edge/routes/artifacts.ts).
  if (isArtifactUpload(c.req.method, c.req.path)) return next();
  return apiBodyLimit(c, next);
});

app.route("/", system);
app.route("/", projects);
app.route("/", tasks);
app.route("/", approvals);
app.route("/", runners);
app.route("/", jobs);
app.route("/", ws);
app.route("/", webhooks);
app.route("/", artifacts);
app.route("/", notifications);
app.route("/", schedules);
app.route("/", metrics);
app.route("/", eventSubscriptions);
app.route("/", eventSubscriptionsRunner);

app.openAPIRegistry.registerComponent("securitySchemes", "bearer", { type: "http", scheme: "bearer" });
app.doc31("/v1/openapi.json", {
  openapi: "3.1.0",
  info: {
    title: "sfp-edge",
    version: VERSION,
    description:
      "The v1 wire contract of sfp-edge. docs/API.md in the repository adds who may call each route, the task states, limits and WebSocket messages.",
  },
});

app.notFound((c) => errorResponse(c, new ApiError("not_found", `no route for ${c.req.method} ${c.req.path}`)));
app.onError(onError);
