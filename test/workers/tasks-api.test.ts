import { describe, expect, it, vi } from "vitest";
import { api, createTask, newToken, setup } from "./helpers.ts";
import { appendLog, moveTo, runToSuccess } from "./drive.ts";

describe("creating tasks", () => {
  it("answers 201 with the task queued, defaults filled and version 1", async () => {
    const { project, owner } = await setup();
    const res = await api("POST", `/v1/projects/${project}/tasks`, {
      token: owner,
      body: { type: "validate", org: "demo", payload: { testLevel: "RunLocalTests" } },
    });
    expect(res.status).toBe(201);
    const t = res.body.task;
    expect(t.id).toMatch(/^tsk_[0-9A-HJKMNP-TV-Z]{39}$/);
    expect(t).toMatchObject({
      project,
      type: "validate",
      org: "demo",
      status: "queued",
      priority: "normal",
      pool: "default",
      attempt: 1,
      maxAttempts: 3,
      version: 1,
      labels: [],
      payload: { testLevel: "RunLocalTests" },
    });
    expect(t.source).toMatchObject({ kind: "api" });
  });

  it("takes the pool from the org's registration unless the request names one", async () => {
    const { project, owner } = await setup();
    await api("PUT", `/v1/projects/${project}/orgs/uat`, { token: owner, body: { pool: "eu" } });
    expect((await createTask(project, owner, { org: "uat" })).pool).toBe("eu");
    expect((await createTask(project, owner, { org: "uat", pool: "us" })).pool).toBe("us");
  });

  it.each([
    [{ type: "explode", org: "demo" }, "type"],
    [{ org: "demo" }, "type"],
    [{ type: "deploy" }, "org"],
    [{ type: "deploy", org: "demo", priority: "urgent" }, "priority"],
    [{ type: "deploy", org: "demo", labels: ["ok", "bad label"] }, "labels[1]"],
    [{ type: "deploy", org: "demo", maxAttempts: 0 }, "maxAttempts"],
    [{ type: "deploy", org: "demo", extra: 1 }, ""],
    [{ type: "deploy", org: "nosuchorg" }, "org"],
  ])("answers 400 naming the bad field for %j", async (body, field) => {
    const { project, owner } = await setup();
    const res = await api("POST", `/v1/projects/${project}/tasks`, { token: owner, body });
    expect(res.status).toBe(400);
    expect(res.body.error.code).toBe("invalid_request");
    expect(res.body.error.requestId).toBeTruthy();
    if (field) expect(res.body.error.field).toBe(field);
    const list = await api("GET", `/v1/projects/${project}/tasks`, { token: owner });
    expect(list.body.tasks).toHaveLength(0);
  });

  it("answers 400 invalid_json to a body that is not JSON", async () => {
    const { project, owner } = await setup();
    const res = await api("POST", `/v1/projects/${project}/tasks`, { token: owner, raw: "{not json", headers: { "content-type": "application/json" } });
    expect(res.status).toBe(400);
    expect(res.body.error.code).toBe("invalid_json");
  });

  it("answers 415 to a body that is not application/json", async () => {
    const { project, owner } = await setup();
    const res = await api("POST", `/v1/projects/${project}/tasks`, {
      token: owner,
      raw: "type=deploy",
      headers: { "content-type": "application/x-www-form-urlencoded" },
    });
    expect(res.status).toBe(415);
    expect(res.body.error.code).toBe("unsupported_media_type");
  });

  it("answers 413 to a payload over the limit", async () => {
    const { project, owner } = await setup();
    const res = await api("POST", `/v1/projects/${project}/tasks`, {
      token: owner,
      body: { type: "deploy", org: "demo", payload: { zipBase64: "A".repeat(300_000) } },
    });
    expect(res.status).toBe(413);
    expect(res.body.error.field).toBe("payload");
  });

  it("answers the same task with 200 for the same Idempotency-Key, and 409 for the key with another body", async () => {
    const { project, owner } = await setup();
    const headers = { "idempotency-key": "build-42" };
    const first = await api("POST", `/v1/projects/${project}/tasks`, { token: owner, body: { type: "deploy", org: "demo" }, headers });
    const again = await api("POST", `/v1/projects/${project}/tasks`, { token: owner, body: { type: "deploy", org: "demo" }, headers });
    expect(first.status).toBe(201);
    expect(again.status).toBe(200);
    expect(again.body.task.id).toBe(first.body.task.id);
    const other = await api("POST", `/v1/projects/${project}/tasks`, { token: owner, body: { type: "retrieve", org: "demo" }, headers });
    expect(other.status).toBe(409);
    const list = await api("GET", `/v1/projects/${project}/tasks`, { token: owner });
    expect(list.body.tasks).toHaveLength(1);
  });

  it("makes one task when the same Idempotency-Key arrives several times at once", async () => {
    const { project, owner } = await setup();
    const answers = await Promise.all(
      Array.from({ length: 8 }, () =>
        api("POST", `/v1/projects/${project}/tasks`, { token: owner, body: { type: "deploy", org: "demo" }, headers: { "idempotency-key": "storm" } }),
      ),
    );
    expect(new Set(answers.map((a) => a.body.task.id)).size).toBe(1);
    expect(answers.filter((a) => a.status === 201)).toHaveLength(1);
  });
});

describe("listing tasks", () => {
  it("lists newest first with a cursor and a status filter", async () => {
    const { project, owner } = await setup();
    const made: Awaited<ReturnType<typeof createTask>>[] = [];
    for (let i = 0; i < 5; i++) made.push(await createTask(project, owner));
    await moveTo(made[1].id, "canceled");
    const page1 = await api("GET", `/v1/projects/${project}/tasks?limit=2`, { token: owner });
    expect(page1.body.tasks.map((t: any) => t.id)).toEqual([made[4].id, made[3].id]);
    const page2 = await api("GET", `/v1/projects/${project}/tasks?limit=2&cursor=${page1.body.cursor}`, { token: owner });
    expect(page2.body.tasks.map((t: any) => t.id)).toEqual([made[2].id, made[1].id]);
    const page3 = await api("GET", `/v1/projects/${project}/tasks?limit=2&cursor=${page2.body.cursor}`, { token: owner });
    expect(page3.body.tasks.map((t: any) => t.id)).toEqual([made[0].id]);
    expect(page3.body.cursor).toBeNull();
    // The index learns of status changes through the task's outbox, a moment after the change.
    await vi.waitFor(async () => {
      const canceled = await api("GET", `/v1/projects/${project}/tasks?status=canceled`, { token: owner });
      expect(canceled.body.tasks.map((t: any) => [t.id, t.status])).toEqual([[made[1].id, "canceled"]]);
    });
  });

  it("answers 400 to a cursor it did not issue and to a bad status", async () => {
    const { project, owner } = await setup();
    expect((await api("GET", `/v1/projects/${project}/tasks?cursor=garbage`, { token: owner })).status).toBe(400);
    const bad = await api("GET", `/v1/projects/${project}/tasks?status=lost`, { token: owner });
    expect(bad.status).toBe(400);
    expect(bad.body.error.field).toBe("status");
  });
});

describe("events and logs", () => {
  it("pages events in seq order without gaps and says when the task is done", async () => {
    const { project, owner } = await setup();
    const t = await createTask(project, owner);
    await appendLog(t.id, ["one", "two"]);
    await runToSuccess(t.id);
    const all = await api("GET", `/v1/tasks/${t.id}/events`, { token: owner });
    expect(all.body.events.map((e: any) => e.seq)).toEqual([1, 2, 3, 4, 5]);
    expect(all.body.events.map((e: any) => e.type)).toEqual(["status", "log", "status", "result", "status"]);
    expect(all.body).toMatchObject({ lastSeq: 5, done: true });
    const page = await api("GET", `/v1/tasks/${t.id}/events?after=1&limit=2`, { token: owner });
    expect(page.body.events.map((e: any) => e.seq)).toEqual([2, 3]);
    expect(page.body.done).toBe(false);
    const task = await api("GET", `/v1/tasks/${t.id}`, { token: owner });
    expect(task.body.task.version).toBe(5);
  });

  it("serves the log as text and honours Range: bytes=N-", async () => {
    const { project, owner } = await setup();
    const t = await createTask(project, owner);
    await appendLog(t.id, ["alpha", "βeta"]);
    await appendLog(t.id, ["gamma"]);
    const full = await api("GET", `/v1/tasks/${t.id}/logs`, { token: owner });
    expect(full.status).toBe(200);
    expect(full.headers.get("content-type")).toContain("text/plain");
    expect(full.body).toBe("alpha\nβeta\ngamma\n");
    const total = new TextEncoder().encode(full.body).length;
    const tail = await api("GET", `/v1/tasks/${t.id}/logs`, { token: owner, headers: { range: "bytes=6-" } });
    expect(tail.status).toBe(206);
    expect(tail.body).toBe("βeta\ngamma\n");
    expect(tail.headers.get("content-range")).toBe(`bytes 6-${total - 1}/${total}`);
    const past = await api("GET", `/v1/tasks/${t.id}/logs`, { token: owner, headers: { range: `bytes=${total}-` } });
    expect(past.status).toBe(416);
    expect(past.headers.get("content-range")).toBe(`bytes */${total}`);
  });
});

describe("canceling", () => {
  it("cancels a queued task at once", async () => {
    const { project, owner } = await setup();
    const t = await createTask(project, owner);
    const res = await api("POST", `/v1/tasks/${t.id}/cancel`, { token: owner });
    expect(res.status).toBe(202);
    expect(res.body.task.status).toBe("canceled");
  });

  it("moves a running task to canceling", async () => {
    const { project, owner } = await setup();
    const t = await createTask(project, owner);
    await moveTo(t.id, "running");
    const res = await api("POST", `/v1/tasks/${t.id}/cancel`, { token: owner });
    expect(res.status).toBe(202);
    expect(res.body.task.status).toBe("canceling");
  });

  it("answers 409 to canceling a finished task", async () => {
    const { project, owner } = await setup();
    const t = await createTask(project, owner);
    await runToSuccess(t.id);
    const res = await api("POST", `/v1/tasks/${t.id}/cancel`, { token: owner });
    expect(res.status).toBe(409);
    expect(res.body.error.code).toBe("already_finished");
  });

  it("lets members cancel but not ci tokens", async () => {
    const { project, owner } = await setup();
    const member = await newToken(project, owner, "member");
    const ci = await newToken(project, owner, "ci");
    const t = await createTask(project, ci.token);
    expect((await api("POST", `/v1/tasks/${t.id}/cancel`, { token: ci.token })).status).toBe(403);
    expect((await api("POST", `/v1/tasks/${t.id}/cancel`, { token: member.token })).status).toBe(202);
  });
});

describe("the contract document", () => {
  it("serves /healthz without auth and the OpenAPI 3.1 document", async () => {
    const health = await api("GET", "/healthz");
    expect(health.status).toBe(200);
    expect(health.body).toMatchObject({ ok: true });
    const doc = await api("GET", "/v1/openapi.json");
    expect(doc.status).toBe(200);
    expect(doc.body.openapi).toBe("3.1.0");
    expect(Object.keys(doc.body.paths)).toEqual(expect.arrayContaining(["/v1/projects/{project}/tasks", "/v1/tasks/{id}", "/v1/tasks/{id}/logs"]));
    expect(doc.body.components.schemas.CreateTaskBody.properties.type.enum ?? doc.body.components.schemas.TaskType.enum).toContain("deploy");
  });

  it("answers 404 in the error shape for unknown routes", async () => {
    const res = await api("GET", "/v1/nothing-here");
    expect(res.status).toBe(404);
    expect(res.body.error.code).toBe("not_found");
  });
});
