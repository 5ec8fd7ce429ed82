import { describe, expect, it } from "vitest";
import { projectStub } from "../../actors/env.ts";
import { env } from "cloudflare:test";
import { api, createTask, newToken, setup } from "./helpers.ts";
import { poll, register, registerWith, registrationToken, running, runnerHeartbeat } from "./runner-helpers.ts";

describe("registration tokens", () => {
  it("registers a runner and answers its token, pool and timing settings", async () => {
    const { project, owner } = await setup();
    const res = await registerWith(await registrationToken(project, owner));
    expect(res.status).toBe(201);
    expect(res.body).toMatchObject({ project, pool: "default", settings: { pollWaitSeconds: 25, heartbeatSeconds: 20, leaseSeconds: 60 } });
    expect(res.body.runnerId).toMatch(/^rnr_/);
  });

  it("refuses a one-use registration token the second time with 401", async () => {
    const { project, owner } = await setup();
    const token = await registrationToken(project, owner);
    expect((await registerWith(token)).status).toBe(201);
    const again = await registerWith(token, { name: "runner-2" });
    expect(again.status).toBe(401);
    expect(again.body.error?.code).toBe("unauthenticated");
  });

  it("honours a use count above one, then refuses", async () => {
    const { project, owner } = await setup();
    const token = await registrationToken(project, owner, { uses: 2 });
    expect((await registerWith(token)).status).toBe(201);
    expect((await registerWith(token)).status).toBe(201);
    expect((await registerWith(token)).status).toBe(401);
  });

  it("refuses an expired registration token with 401", async () => {
    const { project } = await setup();
    const { token } = await projectStub(env, project).createRegistrationToken({ pool: "default" }, Date.now() - 2 * 3600_000);
    expect((await registerWith(token)).status).toBe(401);
  });

  it("lets only the owner create registration tokens", async () => {
    const { project, owner } = await setup();
    const member = await newToken(project, owner, "member");
    const res = await api("POST", `/v1/projects/${project}/registration-tokens`, { token: member.token, body: { pool: "default" } });
    expect(res.status).toBe(403);
  });

  it("does not take a registration token as a bearer token", async () => {
    const { project, owner } = await setup();
    const token = await registrationToken(project, owner);
    expect((await poll(token)).status).toBe(401);
  });

  it("gives the runner the registration token's labels, which it may repeat", async () => {
    const { project, owner } = await setup();
    const res = await registerWith(await registrationToken(project, owner, { labels: ["eu", "linux"] }), { labels: ["linux"] });
    const list = await api("GET", `/v1/projects/${project}/runners`, { token: owner });
    expect(list.body.runners.find((r: { id: string }) => r.id === res.body.runnerId).labels).toEqual(["eu", "linux"]);
  });
});

describe("runner tokens", () => {
  it("answers 403 when a runner token calls the task API", async () => {
    const { owner, runner, task } = await running();
    expect((await api("GET", `/v1/tasks/${task.id}`, { token: runner.runnerToken })).status).toBe(403);
    expect((await api("GET", `/v1/tasks/${task.id}`, { token: owner })).status).toBe(200);
  });

  it("answers 403 when a project token calls the runner API", async () => {
    const { owner } = await setup();
    expect((await poll(owner)).status).toBe(403);
  });

  it("answers 401 to a runner call without credentials", async () => {
    expect((await api("POST", "/v1/runners/poll", { body: { freeSlots: 1, waitSeconds: 0 } })).status).toBe(401);
  });
});

describe("the owner's view of runners", () => {
  it("lists runners of every pool with their state, last seen and resources", async () => {
    const { project, owner } = await setup();
    const a = await register(project, owner);
    const b = await register(project, owner, { pool: "eu", name: "runner-eu" });
    await runnerHeartbeat(b.runnerToken, { state: "busy", freeSlots: 0, activeTasks: ["tsk_x"] });
    const res = await api("GET", `/v1/projects/${project}/runners`, { token: owner });
    expect(res.status).toBe(200);
    const byId = Object.fromEntries(res.body.runners.map((r: { id: string }) => [r.id, r]));
    expect(byId[a.runnerId]).toMatchObject({ pool: "default", state: "idle", resources: null });
    expect(byId[b.runnerId]).toMatchObject({ pool: "eu", name: "runner-eu", state: "busy", freeSlots: 0, activeTasks: ["tsk_x"], resources: { load1: 0.4 } });
    expect(Date.parse(byId[b.runnerId].lastSeenAt)).toBeGreaterThan(0);
  });

  it("revoking a runner makes its next call 401 and drops it from the list", async () => {
    const { project, owner } = await setup();
    const r = await register(project, owner);
    expect((await api("DELETE", `/v1/projects/${project}/runners/${r.runnerId}`, { token: owner })).status).toBe(204);
    expect((await poll(r.runnerToken)).status).toBe(401);
    expect((await runnerHeartbeat(r.runnerToken)).status).toBe(401);
    const list = await api("GET", `/v1/projects/${project}/runners`, { token: owner });
    expect(list.body.runners).toEqual([]);
  });

  it("answers 404 for another project's runner", async () => {
    const a = await setup("a");
    const b = await setup("b");
    const r = await register(a.project, a.owner);
    expect((await api("DELETE", `/v1/projects/${b.project}/runners/${r.runnerId}`, { token: b.owner })).status).toBe(404);
    expect((await api("DELETE", `/v1/projects/${a.project}/runners/${r.runnerId}`, { token: b.owner })).status).toBe(404);
  });

  it("a deregistered runner answers 401 afterwards, and deregistering again is 204", async () => {
    const { project, owner } = await setup();
    const r = await register(project, owner);
    await createTask(project, owner);
    expect((await api("DELETE", "/v1/runners/self", { token: r.runnerToken })).status).toBe(204);
    expect((await api("DELETE", "/v1/runners/self", { token: r.runnerToken })).status).toBe(204);
    expect((await poll(r.runnerToken)).status).toBe(401);
  });

  it("documents the runner protocol in the OpenAPI document", async () => {
    const res = await api("GET", "/v1/openapi.json");
    for (const path of [
      "/v1/runners/register",
      "/v1/runners/poll",
      "/v1/jobs/{taskId}/accept",
      "/v1/jobs/{taskId}/finish",
      "/v1/projects/{project}/runners/{id}",
    ]) {
      expect(Object.keys(res.body.paths)).toContain(path);
    }
  });
});
