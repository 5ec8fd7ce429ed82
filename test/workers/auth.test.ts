import { describe, expect, it } from "vitest";
import { ADMIN_TOKEN, api, createTask, newProject, newToken, setup } from "./helpers.ts";

describe("authentication", () => {
  it("answers 401 without a token, with a malformed one and with a forged one", async () => {
    const { project, owner } = await setup();
    expect((await api("GET", `/v1/projects/${project}/tasks`)).status).toBe(401);
    expect((await api("GET", `/v1/projects/${project}/tasks`, { token: "nope" })).status).toBe(401);
    // Same claims, signature of another key: the body is kept, the last byte of the MAC flipped.
    const forged = owner.slice(0, -2) + (owner.endsWith("A") ? "BB" : "AA");
    const res = await api("GET", `/v1/projects/${project}/tasks`, { token: forged });
    expect(res.status).toBe(401);
    expect(res.body.error).toMatchObject({ code: "unauthenticated" });
  });

  it("lets only the admin token create projects", async () => {
    const { owner } = await setup();
    expect((await api("POST", "/v1/projects", { token: owner, body: { name: "x" } })).status).toBe(403);
    expect((await api("POST", "/v1/projects", { body: { name: "x" } })).status).toBe(401);
    const bad = await api("POST", "/v1/projects", { token: ADMIN_TOKEN, body: { name: "" } });
    expect(bad.status).toBe(400);
    expect(bad.body.error.field).toBe("name");
  });

  it("answers 404, not 403, for another project's task and project", async () => {
    const a = await setup("a");
    const b = await setup("b");
    const task = await createTask(b.project, b.owner);
    for (const path of [`/v1/tasks/${task.id}`, `/v1/tasks/${task.id}/events`, `/v1/tasks/${task.id}/logs`]) {
      const res = await api("GET", path, { token: a.owner });
      expect(res.status, path).toBe(404);
      expect(res.body.error.code).toBe("not_found");
    }
    expect((await api("POST", `/v1/tasks/${task.id}/cancel`, { token: a.owner })).status).toBe(404);
    expect((await api("GET", `/v1/projects/${b.project}/tasks`, { token: a.owner })).status).toBe(404);
    expect((await api("POST", `/v1/projects/${b.project}/tasks`, { token: a.owner, body: { type: "deploy", org: "demo" } })).status).toBe(404);
    expect((await api("GET", `/v1/tasks/tsk_00000000000000000000000000`, { token: a.owner })).status).toBe(404);
  });

  it("enforces roles: viewers read, ci creates, only owners manage tokens and orgs", async () => {
    const { project, owner } = await setup();
    const viewer = await newToken(project, owner, "viewer");
    const ci = await newToken(project, owner, "ci");
    const member = await newToken(project, owner, "member");
    const create = (token: string) => api("POST", `/v1/projects/${project}/tasks`, { token, body: { type: "deploy", org: "demo" } });
    const denied = await create(viewer.token);
    expect(denied.status).toBe(403);
    expect(denied.body.error.code).toBe("forbidden");
    expect((await create(ci.token)).status).toBe(201);
    expect((await create(member.token)).status).toBe(201);
    expect((await api("GET", `/v1/projects/${project}/tasks`, { token: viewer.token })).status).toBe(200);
    for (const t of [viewer, ci, member]) {
      expect((await api("POST", `/v1/projects/${project}/tokens`, { token: t.token, body: { name: "x", role: "owner" } })).status).toBe(403);
      expect((await api("PUT", `/v1/projects/${project}/orgs/x`, { token: t.token, body: {} })).status).toBe(403);
      expect((await api("GET", `/v1/projects/${project}/tokens`, { token: t.token })).status).toBe(403);
    }
  });

  it("makes a revoked token's next request 401", async () => {
    const { project, owner } = await setup();
    const member = await newToken(project, owner, "member");
    expect((await api("GET", `/v1/projects/${project}/tasks`, { token: member.token })).status).toBe(200);
    expect((await api("DELETE", `/v1/projects/${project}/tokens/${member.id}`, { token: owner })).status).toBe(204);
    expect((await api("GET", `/v1/projects/${project}/tasks`, { token: member.token })).status).toBe(401);
    const list = await api("GET", `/v1/projects/${project}/tokens`, { token: owner });
    const row = list.body.tokens.find((t: any) => t.id === member.id);
    expect(row.revokedAt).toBeTruthy();
    expect((await api("DELETE", `/v1/projects/${project}/tokens/tok_nosuch`, { token: owner })).status).toBe(404);
  });

  it("lists tokens without any secret", async () => {
    const { project, owner } = await setup();
    const made = await newToken(project, owner, "ci");
    const list = await api("GET", `/v1/projects/${project}/tokens`, { token: owner });
    expect(list.status).toBe(200);
    expect(list.body.tokens.map((t: any) => t.role).sort()).toEqual(["ci", "owner"]);
    const text = JSON.stringify(list.body);
    expect(text).not.toContain(made.token);
    expect(text).not.toContain(owner);
    expect(Object.keys(list.body.tokens[0]).sort()).toEqual(["createdAt", "expiresAt", "id", "name", "revokedAt", "role"]);
  });

  it("reports a token's expiry and validates token requests", async () => {
    const { project, owner } = await newProject();
    const res = await api("POST", `/v1/projects/${project}/tokens`, { token: owner, body: { name: "ci", role: "ci", expiresInDays: 7 } });
    expect(res.status).toBe(201);
    const days = (Date.parse(res.body.expiresAt) - Date.now()) / 86_400_000;
    expect(days).toBeGreaterThan(6.9);
    expect(days).toBeLessThan(7.1);
    const bad = await api("POST", `/v1/projects/${project}/tokens`, { token: owner, body: { name: "x", role: "god" } });
    expect(bad.status).toBe(400);
    expect(bad.body.error.field).toBe("role");
  });
});

describe("orgs", () => {
  it("stores metadata only and lists it", async () => {
    const { project, owner } = await newProject();
    const put = await api("PUT", `/v1/projects/${project}/orgs/prod`, {
      token: owner,
      body: { pool: "eu", orgId: "00D000000000001AAA", instanceUrl: "https://acme.my.salesforce.com", isProduction: true },
    });
    expect(put.status).toBe(200);
    expect(put.body.org).toMatchObject({ alias: "prod", pool: "eu", isProduction: true });
    const bad = await api("PUT", `/v1/projects/${project}/orgs/prod`, { token: owner, body: { refreshToken: "secret" } });
    expect(bad.status).toBe(400);
    const badUrl = await api("PUT", `/v1/projects/${project}/orgs/prod`, { token: owner, body: { instanceUrl: "http://insecure" } });
    expect(badUrl.body.error.field).toBe("instanceUrl");
    const list = await api("GET", `/v1/projects/${project}/orgs`, { token: owner });
    expect(list.body.orgs.map((o: any) => o.alias)).toEqual(["prod"]);
  });
});
