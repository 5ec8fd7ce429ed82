// Projects, tokens, orgs and WebSocket tickets.
import { createRoute, z } from "@hono/zod-openapi";
import {
  CreatedToken,
  CreateProjectAnswer,
  CreateProjectBody,
  CreateTokenBody,
  newId,
  Org,
  OrgAlias,
  PutOrgBody,
  permissionsOf,
  TokenInfo,
  WhoAmI,
  WsTicket,
} from "../../protocol/index.ts";
import { requireAdmin, requireProjectToken } from "../auth/middleware.ts";
import { forgetProjectView } from "../auth/project-view.ts";
import { projectStub } from "../../actors/env.ts";
import { bearerAuth, errors, json, jsonBody, router } from "../openapi.ts";

export const projects = router();

const ProjectParam = z.object({ project: z.string().min(1).max(64) });

projects.openapi(
  createRoute({
    method: "post",
    path: "/v1/projects",
    summary: "Create a project (admin token); answers its owner token, shown once",
    security: bearerAuth,
    request: jsonBody(CreateProjectBody),
    responses: { 201: json(CreateProjectAnswer, "created"), ...errors(400, 401, 403, 415, 429) },
  }),
  async (c) => {
    await requireAdmin(c);
    const { name } = c.req.valid("json");
    const id = newId("prj");
    return c.json(await projectStub(c.env, id).init(id, name), 201);
  },
);

projects.openapi(
  createRoute({
    method: "post",
    path: "/v1/projects/{project}/tokens",
    summary: "Create a project token (owner); the secret is shown once",
    security: bearerAuth,
    request: { params: ProjectParam, ...jsonBody(CreateTokenBody) },
    responses: { 201: json(CreatedToken, "created"), ...errors(400, 401, 403, 404, 415, 429) },
  }),
  async (c) => {
    const { project } = c.req.valid("param");
    await requireProjectToken(c, "project:admin", project);
    return c.json(await projectStub(c.env, project).createToken(c.req.valid("json")), 201);
  },
);

projects.openapi(
  createRoute({
    method: "get",
    path: "/v1/projects/{project}/tokens",
    summary: "List the project's tokens, without secrets (owner)",
    security: bearerAuth,
    request: { params: ProjectParam },
    responses: { 200: json(z.object({ tokens: z.array(TokenInfo) }), "tokens"), ...errors(401, 403, 404, 429) },
  }),
  async (c) => {
    const { project } = c.req.valid("param");
    await requireProjectToken(c, "project:admin", project);
    return c.json({ tokens: await projectStub(c.env, project).listTokens() }, 200);
  },
);

projects.openapi(
  createRoute({
    method: "delete",
    path: "/v1/projects/{project}/tokens/{id}",
    summary: "Revoke a token (owner): at once on this edge and the actors, within 30 s everywhere",
    security: bearerAuth,
    request: { params: ProjectParam.extend({ id: z.string().min(1).max(64) }) },
    responses: { 204: { description: "revoked" }, ...errors(401, 403, 404, 429) },
  }),
  async (c) => {
    const { project, id } = c.req.valid("param");
    await requireProjectToken(c, "project:admin", project);
    await projectStub(c.env, project).revokeToken(id);
    forgetProjectView(project);
    return c.body(null, 204);
  },
);

projects.openapi(
  createRoute({
    method: "put",
    path: "/v1/projects/{project}/orgs/{alias}",
    summary: "Register or update an org's metadata (owner); never a credential",
    security: bearerAuth,
    request: { params: ProjectParam.extend({ alias: OrgAlias }), ...jsonBody(PutOrgBody) },
    responses: { 200: json(z.object({ org: Org }), "stored"), ...errors(400, 401, 403, 404, 415, 429) },
  }),
  async (c) => {
    const { project, alias } = c.req.valid("param");
    await requireProjectToken(c, "project:admin", project);
    const org = await projectStub(c.env, project).putOrg(alias, c.req.valid("json"));
    forgetProjectView(project);
    return c.json({ org }, 200);
  },
);

projects.openapi(
  createRoute({
    method: "get",
    path: "/v1/projects/{project}/orgs",
    summary: "List the project's orgs",
    security: bearerAuth,
    request: { params: ProjectParam },
    responses: { 200: json(z.object({ orgs: z.array(Org) }), "orgs"), ...errors(401, 403, 404, 429) },
  }),
  async (c) => {
    const { project } = c.req.valid("param");
    await requireProjectToken(c, "read", project);
    return c.json({ orgs: await projectStub(c.env, project).listOrgs() }, 200);
  },
);

projects.openapi(
  createRoute({
    method: "post",
    path: "/v1/projects/{project}/ws-tickets",
    summary: "A single-use, 60 s ticket for browsers to open a WebSocket with ?ticket=; it dies with the token that asked for it",
    security: bearerAuth,
    request: { params: ProjectParam },
    responses: { 201: json(WsTicket, "issued"), ...errors(401, 403, 404, 429) },
  }),
  async (c) => {
    const { project } = c.req.valid("param");
    const caller = await requireProjectToken(c, "read", project);
    return c.json(await projectStub(c.env, project).issueTicket(caller.tokenId, caller.role), 201);
  },
);

projects.openapi(
  createRoute({
    method: "get",
    path: "/v1/projects/{project}/whoami",
    summary: "The calling token's id, role and permissions (any role): what a client such as the dashboard may offer",
    security: bearerAuth,
    request: { params: ProjectParam },
    responses: { 200: json(WhoAmI, "the caller"), ...errors(401, 403, 404, 429) },
  }),
  async (c) => {
    const { project } = c.req.valid("param");
    const caller = await requireProjectToken(c, "read", project);
    return c.json({ project, tokenId: caller.tokenId, role: caller.role, permissions: permissionsOf(caller.role) }, 200);
  },
);
