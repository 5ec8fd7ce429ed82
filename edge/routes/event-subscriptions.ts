// Platform Event subscriptions, the owner's side (docs/API.md "Platform Events"): which org's channel
// is listened to and which salesforce-event source's rules map its events to tasks. The runners'
// side (leases, deliveries) is event-subscriptions-runner.ts.
import { createRoute, z } from "@hono/zod-openapi";
import { EventSubscriptionAnswer, EventSubscriptionList, EventSubscriptionName, PutEventSubscriptionBody } from "../../protocol/events.ts";
import { requireProjectToken } from "../auth/middleware.ts";
import { projectStub } from "../../actors/env.ts";
import { bearerAuth, errors, json, jsonBody, router } from "../openapi.ts";

export const eventSubscriptions = router();

const ProjectParam = z.object({ project: z.string().min(1).max(64) });
const SubscriptionParam = ProjectParam.extend({ name: EventSubscriptionName });

eventSubscriptions.openapi(
  createRoute({
    method: "put",
    path: "/v1/projects/{project}/event-subscriptions/{name}",
    summary: "Create or replace a Platform Event subscription (owner): a runner of the org's pool subscribes to the channel",
    description:
      "The source must be a webhook source of kind salesforce-event; its rules map each event to tasks. Changing org or channel starts over from new events; one subscription per org and channel (409 otherwise).",
    security: bearerAuth,
    request: { params: SubscriptionParam, ...jsonBody(PutEventSubscriptionBody) },
    responses: { 200: json(EventSubscriptionAnswer, "the subscription"), ...errors(400, 401, 403, 404, 409, 415, 429) },
  }),
  async (c) => {
    const { project, name } = c.req.valid("param");
    await requireProjectToken(c, "project:admin", project);
    const subscription = await projectStub(c.env, project).putEventSubscription(name, c.req.valid("json"));
    return c.json({ subscription }, 200);
  },
);

eventSubscriptions.openapi(
  createRoute({
    method: "get",
    path: "/v1/projects/{project}/event-subscriptions",
    summary: "List the project's Platform Event subscriptions with their holder and replay id (owner)",
    security: bearerAuth,
    request: { params: ProjectParam },
    responses: { 200: json(EventSubscriptionList, "subscriptions"), ...errors(401, 403, 404, 429) },
  }),
  async (c) => {
    const { project } = c.req.valid("param");
    await requireProjectToken(c, "project:admin", project);
    return c.json({ subscriptions: await projectStub(c.env, project).listEventSubscriptions() }, 200);
  },
);

eventSubscriptions.openapi(
  createRoute({
    method: "get",
    path: "/v1/projects/{project}/event-subscriptions/{name}",
    summary: "Read a Platform Event subscription (owner)",
    security: bearerAuth,
    request: { params: SubscriptionParam },
    responses: { 200: json(EventSubscriptionAnswer, "the subscription"), ...errors(401, 403, 404, 429) },
  }),
  async (c) => {
    const { project, name } = c.req.valid("param");
    await requireProjectToken(c, "project:admin", project);
    return c.json({ subscription: await projectStub(c.env, project).getEventSubscription(name) }, 200);
  },
);

eventSubscriptions.openapi(
  createRoute({
    method: "delete",
    path: "/v1/projects/{project}/event-subscriptions/{name}",
    summary: "Delete a Platform Event subscription (owner): its holder stops at its next lease renewal",
    security: bearerAuth,
    request: { params: SubscriptionParam },
    responses: { 204: { description: "deleted" }, ...errors(401, 403, 404, 429) },
  }),
  async (c) => {
    const { project, name } = c.req.valid("param");
    await requireProjectToken(c, "project:admin", project);
    await projectStub(c.env, project).deleteEventSubscription(name);
    return c.body(null, 204);
  },
);
