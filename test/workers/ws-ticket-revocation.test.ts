// Issue 11 "Revocation never closes sockets", the ticket half: a ticket stands for the token that
// asked for it, so a token revoked after the ticket was minted opens no socket with it; and every
// project-feed socket is tagged with its token id, so revocation can find it. The socket half:
// revoking a token closes its open feed and task sockets with 4401.
import { env, runInDurableObject } from "cloudflare:test";
import { describe, expect, it, vi } from "vitest";
import { ProjectActor } from "../../actors/project-actor.ts";
import { projectStub } from "../../actors/env.ts";
import { tokenTag } from "../../actors/sockets.ts";
import { appendLog } from "./drive.ts";
import { api, createTask, newToken, openSocket, setup } from "./helpers.ts";

async function ticket(project: string, token: string): Promise<string> {
  const res = await api("POST", `/v1/projects/${project}/ws-tickets`, { token });
  if (res.status !== 201) throw new Error(`ticket: ${res.status} ${JSON.stringify(res.body)}`);
  return encodeURIComponent(res.body.ticket);
}

function feedSocketsTagged(project: string, tokenId: string): Promise<number> {
  return runInDurableObject(projectStub(env, project), (_actor, state) => state.getWebSockets(tokenTag(tokenId)).length);
}

describe("WebSocket tickets and revocation", () => {
  it("refuses a project-feed ticket whose token was revoked after the ticket was minted", async () => {
    const { project, owner } = await setup();
    const viewer = await newToken(project, owner, "viewer");
    const t = await ticket(project, viewer.token);
    expect((await api("DELETE", `/v1/projects/${project}/tokens/${viewer.id}`, { token: owner })).status).toBe(204);
    const res = await openSocket(`/v1/projects/${project}/ws?ticket=${t}`);
    expect(res.status).toBe(401);
    expect(JSON.parse(res.body).error).toMatchObject({ code: "unauthenticated" });
    expect(await feedSocketsTagged(project, viewer.id)).toBe(0);
  });

  it("refuses a task-socket ticket whose token was revoked after the ticket was minted", async () => {
    const { project, owner } = await setup();
    const task = await createTask(project, owner);
    const viewer = await newToken(project, owner, "viewer");
    const t = await ticket(project, viewer.token);
    expect((await api("DELETE", `/v1/projects/${project}/tokens/${viewer.id}`, { token: owner })).status).toBe(204);
    expect((await openSocket(`/v1/tasks/${task.id}/ws?ticket=${t}`)).status).toBe(401);
  });

  it("mints no ticket for a token the project has revoked, even where the edge's cached view still holds it", async () => {
    const { project, owner } = await setup();
    const viewer = await newToken(project, owner, "viewer");
    // The edge caches the project's view; revoking on the actor alone leaves that copy stale, as
    // revocation at another edge does for up to 30 s.
    expect((await api("GET", `/v1/projects/${project}/tasks`, { token: viewer.token })).status).toBe(200);
    await projectStub(env, project).revokeToken(viewer.id);
    expect((await api("GET", `/v1/projects/${project}/tasks`, { token: viewer.token })).status).toBe(200);
    const res = await api("POST", `/v1/projects/${project}/ws-tickets`, { token: viewer.token });
    expect(res.status).toBe(401);
    expect(res.body.error.code).toBe("unauthenticated");
  });

  it("still opens a socket with a ticket of a live token, once", async () => {
    const { project, owner } = await setup();
    const viewer = await newToken(project, owner, "viewer");
    const t = await ticket(project, viewer.token);
    const first = await openSocket(`/v1/projects/${project}/ws?ticket=${t}`);
    expect(first.status).toBe(101);
    expect((await openSocket(`/v1/projects/${project}/ws?ticket=${t}`)).status).toBe(401);
    first.socket?.close();
  });

  it("tags each project-feed socket with the id of the token it was opened with, by bearer or by ticket", async () => {
    const { project, owner } = await setup();
    const member = await newToken(project, owner, "member");
    const viewer = await newToken(project, owner, "viewer");
    const byBearer = await openSocket(`/v1/projects/${project}/ws`, member.token);
    const byTicket = await openSocket(`/v1/projects/${project}/ws?ticket=${await ticket(project, viewer.token)}`);
    expect([byBearer.status, byTicket.status]).toEqual([101, 101]);
    await byBearer.socket?.until((m) => m[0]?.type === "hello");
    await byTicket.socket?.until((m) => m[0]?.type === "hello");
    expect(await feedSocketsTagged(project, member.id)).toBe(1);
    expect(await feedSocketsTagged(project, viewer.id)).toBe(1);
    byBearer.socket?.close();
    byTicket.socket?.close();
  });

  it("closes a revoked token's project-feed sockets with 4401, by bearer and by ticket, and leaves other tokens' sockets open", async () => {
    const { project, owner } = await setup();
    const viewer = await newToken(project, owner, "viewer");
    const byBearer = (await openSocket(`/v1/projects/${project}/ws`, viewer.token)).socket!;
    const byTicket = (await openSocket(`/v1/projects/${project}/ws?ticket=${await ticket(project, viewer.token)}`)).socket!;
    const owners = (await openSocket(`/v1/projects/${project}/ws`, owner)).socket!;
    for (const s of [byBearer, byTicket, owners]) await s.until((m) => m[0]?.type === "hello");
    expect((await api("DELETE", `/v1/projects/${project}/tokens/${viewer.id}`, { token: owner })).status).toBe(204);
    await byBearer.until(() => byBearer.closed !== null);
    await byTicket.until(() => byTicket.closed !== null);
    expect([byBearer.closed?.code, byTicket.closed?.code]).toEqual([4401, 4401]);
    const task = await createTask(project, owner);
    await owners.until((m) => m.some((x) => x.type === "task" && x.task.id === task.id));
    expect(owners.closed).toBeNull();
    owners.close();
  });

  it("closes a revoked token's task sockets with 4401 on every task it watches, and leaves other tokens' sockets open", async () => {
    const { project, owner } = await setup();
    const [a, b] = [await createTask(project, owner), await createTask(project, owner)];
    const viewer = await newToken(project, owner, "viewer");
    const onA = (await openSocket(`/v1/tasks/${a.id}/ws`, viewer.token)).socket!;
    const onB = (await openSocket(`/v1/tasks/${b.id}/ws?ticket=${await ticket(project, viewer.token)}`)).socket!;
    const owners = (await openSocket(`/v1/tasks/${a.id}/ws`, owner)).socket!;
    for (const s of [onA, onB, owners]) await s.until((m) => m.some((x) => x.type === "task"));
    expect((await api("DELETE", `/v1/projects/${project}/tokens/${viewer.id}`, { token: owner })).status).toBe(204);
    await onA.until(() => onA.closed !== null);
    await onB.until(() => onB.closed !== null);
    expect([onA.closed?.code, onB.closed?.code]).toEqual([4401, 4401]);
    await appendLog(a.id, ["still streaming"]);
    await owners.until(() => owners.events().length > 0);
    expect(owners.closed).toBeNull();
    owners.close();
  });

  it("checks the token with the project when a socket is accepted, so a revocation the edge's cached view misses still shuts it out", async () => {
    const { project, owner } = await setup();
    const task = await createTask(project, owner);
    const viewer = await newToken(project, owner, "viewer");
    expect((await api("GET", `/v1/projects/${project}/tasks`, { token: viewer.token })).status).toBe(200);
    await projectStub(env, project).revokeToken(viewer.id);
    const feed = await openSocket(`/v1/projects/${project}/ws`, viewer.token);
    expect(feed.status).toBe(401);
    expect(JSON.parse(feed.body).error).toMatchObject({ code: "unauthenticated" });
    const onTask = (await openSocket(`/v1/tasks/${task.id}/ws`, viewer.token)).socket!;
    await onTask.until(() => onTask.closed !== null);
    expect(onTask.closed?.code).toBe(4401);
    expect(onTask.messages.some((m) => m?.type === "task")).toBe(false);
  });

  it("asks the project once for many sockets of one token on a task, and shuts the token's sockets out again once it is revoked", async () => {
    const { project, owner } = await setup();
    const task = await createTask(project, owner);
    const viewer = await newToken(project, owner, "viewer");
    const asked = vi.spyOn(ProjectActor.prototype, "watchTask");
    const sockets = await Promise.all(Array.from({ length: 6 }, async () => (await openSocket(`/v1/tasks/${task.id}/ws`, viewer.token)).socket!));
    for (const s of sockets) await s.until((m) => m.some((x) => x.type === "task"));
    expect(asked.mock.calls.filter(([tokenId]) => tokenId === viewer.id)).toHaveLength(1);

    await projectStub(env, project).revokeToken(viewer.id);
    for (const s of sockets) {
      await s.until(() => s.closed !== null);
      expect(s.closed?.code).toBe(4401);
    }
    // The edge's cached view still lets the upgrade through; the task asks the project again.
    const late = (await openSocket(`/v1/tasks/${task.id}/ws`, viewer.token)).socket!;
    await late.until(() => late.closed !== null);
    expect(late.closed?.code).toBe(4401);
    expect(asked.mock.calls.filter(([tokenId]) => tokenId === viewer.id)).toHaveLength(2);
    asked.mockRestore();
  });
});
