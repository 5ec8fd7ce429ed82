// Notification endpoints (owner API; docs/API.md "Notifications"): where the edge sends Standard
// Webhooks deliveries of task events, their signing secrets (shown once), and their delivery log.
import { createRoute, z } from "@hono/zod-openapi";
import {
  NotificationDeliveryAnswer,
  NotificationDeliveryList,
  NotificationEndpointAnswer,
  NotificationEndpointList,
  NotificationEndpointName,
  PutNotificationEndpointBody,
} from "../../protocol/notify.ts";
import { projectStub } from "../../actors/env.ts";
import { allowLoopback } from "../../actors/notifier.ts";
import { checkEndpointUrl } from "../../common/endpoint-url.ts";
import { ApiError } from "../../protocol/index.ts";
import { requireProjectToken } from "../auth/middleware.ts";
import { bearerAuth, errors, json, jsonBody, router } from "../openapi.ts";

export const notifications = router();

const ProjectParam = z.object({ project: z.string().min(1).max(64) });
const EndpointParam = ProjectParam.extend({ name: NotificationEndpointName });
const DeliveryParam = EndpointParam.extend({ id: z.string().min(1).max(100) });
const BASE = "/v1/projects/{project}/notification-endpoints";

notifications.openapi(
  createRoute({
    method: "put",
    path: `${BASE}/{name}`,
    summary: "Create or update a notification endpoint (owner); a new endpoint's signing secret is answered once",
    security: bearerAuth,
    request: { params: EndpointParam, ...jsonBody(PutNotificationEndpointBody) },
    responses: { 200: json(NotificationEndpointAnswer, "the endpoint (and, when just made, its secret)"), ...errors(400, 401, 403, 404, 415, 429) },
  }),
  async (c) => {
    const { project, name } = c.req.valid("param");
    await requireProjectToken(c, "project:admin", project);
    const verdict = checkEndpointUrl(c.req.valid("json").url, allowLoopback(c.env));
    if (!verdict.ok) throw new ApiError("invalid_request", `url: refused: ${verdict.reason}`, { field: "url" });
    // The origin the owner reached the edge by makes the dashboard links in deliveries.
    const answer = await projectStub(c.env, project).putNotificationEndpoint(name, c.req.valid("json"), new URL(c.req.url).origin);
    return c.json(answer, 200);
  },
);

notifications.openapi(
  createRoute({
    method: "get",
    path: BASE,
    summary: "List the project's notification endpoints (owner)",
    security: bearerAuth,
    request: { params: ProjectParam },
    responses: { 200: json(NotificationEndpointList, "endpoints, never a secret"), ...errors(401, 403, 404, 429) },
  }),
  async (c) => {
    const { project } = c.req.valid("param");
    await requireProjectToken(c, "project:admin", project);
    return c.json({ endpoints: await projectStub(c.env, project).listNotificationEndpoints() }, 200);
  },
);

notifications.openapi(
  createRoute({
    method: "get",
    path: `${BASE}/{name}`,
    summary: "Read a notification endpoint (owner)",
    security: bearerAuth,
    request: { params: EndpointParam },
    responses: { 200: json(NotificationEndpointAnswer, "the endpoint, never its secret"), ...errors(401, 403, 404, 429) },
  }),
  async (c) => {
    const { project, name } = c.req.valid("param");
    await requireProjectToken(c, "project:admin", project);
    return c.json({ endpoint: await projectStub(c.env, project).getNotificationEndpoint(name) }, 200);
  },
);

notifications.openapi(
  createRoute({
    method: "delete",
    path: `${BASE}/{name}`,
    summary: "Delete a notification endpoint and its deliveries (owner)",
    security: bearerAuth,
    request: { params: EndpointParam },
    responses: { 204: { description: "deleted" }, ...errors(401, 403, 404, 429) },
  }),
  async (c) => {
    const { project, name } = c.req.valid("param");
    await requireProjectToken(c, "project:admin", project);
    await projectStub(c.env, project).deleteNotificationEndpoint(name);
    return c.body(null, 204);
  },
);

notifications.openapi(
  createRoute({
    method: "post",
    path: `${BASE}/{name}/rotate-secret`,
    summary: "Give the endpoint a new signing secret (owner), answered once; the old one keeps signing alongside for 24 h",
    security: bearerAuth,
    request: { params: EndpointParam },
    responses: { 200: json(NotificationEndpointAnswer, "the endpoint and its new secret"), ...errors(401, 403, 404, 429) },
  }),
  async (c) => {
    const { project, name } = c.req.valid("param");
    await requireProjectToken(c, "project:admin", project);
    return c.json(await projectStub(c.env, project).rotateNotificationSecret(name), 200);
  },
);

notifications.openapi(
  createRoute({
    method: "get",
    path: `${BASE}/{name}/deliveries`,
    summary: "The endpoint's delivery log, newest first (owner): status, attempts, last response code and time",
    security: bearerAuth,
    request: { params: EndpointParam, query: z.object({ limit: z.coerce.number().int().min(1).max(200).default(50) }) },
    responses: { 200: json(NotificationDeliveryList, "deliveries"), ...errors(400, 401, 403, 404, 429) },
  }),
  async (c) => {
    const { project, name } = c.req.valid("param");
    await requireProjectToken(c, "project:admin", project);
    const { limit } = c.req.valid("query");
    return c.json({ deliveries: await projectStub(c.env, project).listNotificationDeliveries(name, limit) }, 200);
  },
);

notifications.openapi(
  createRoute({
    method: "post",
    path: `${BASE}/{name}/deliveries/{id}/redeliver`,
    summary: "Send a delivery again with the same webhook-id, from the start of the retry schedule (owner)",
    security: bearerAuth,
    request: { params: DeliveryParam },
    responses: { 202: json(NotificationDeliveryAnswer, "the delivery, pending again"), ...errors(401, 403, 404, 409, 429) },
  }),
  async (c) => {
    const { project, name, id } = c.req.valid("param");
    await requireProjectToken(c, "project:admin", project);
    return c.json({ delivery: await projectStub(c.env, project).redeliverNotification(name, id) }, 202);
  },
);
