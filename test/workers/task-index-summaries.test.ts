// Issue 11 "Whole tasks in the project index": the index, the list and the project feed hold task
// summaries (every field but payload and result); GET /v1/tasks/:id keeps the whole task.
import { env, runInDurableObject } from "cloudflare:test";
import { describe, expect, it } from "vitest";
import { projectStub } from "../../actors/env.ts";
import type { Task } from "../../protocol/index.ts";
import { api, createTask, openSocket, setup } from "./helpers.ts";
import { finish, readTask, running } from "./runner-helpers.ts";

// Every field a list item and a feed message may carry: the Task's, less payload and result.
const SUMMARY_FIELDS = [
  "id",
  "project",
  "type",
  "org",
  "priority",
  "pool",
  "labels",
  "status",
  "attempt",
  "maxAttempts",
  "timeoutSeconds",
  "version",
  "createdAt",
  "updatedAt",
  "startedAt",
  "finishedAt",
  "progress",
  "error",
  "source",
  // issue 14: the commit a task reports its status to
  "commit",
  "waitingFor",
  "approval",
  // issue 15: when a scheduled task is queued
  "runAt",
];

const bigPayload = () => ({ blob: "p".repeat(200 * 1024) });
const bigResult = () => ({ rows: "r".repeat(300 * 1024) });

async function listUntil(project: string, token: string, done: (tasks: any[]) => boolean): Promise<any[]> {
  for (let i = 0; ; i++) {
    const res = await api("GET", `/v1/projects/${project}/tasks?limit=200`, { token });
    expect(res.status).toBe(200);
    if (done(res.body.tasks)) return res.body.tasks;
    if (i > 200) throw new Error(`the list never settled: ${JSON.stringify(res.body).slice(0, 500)}`);
    await new Promise((r) => setTimeout(r, 25));
  }
}

function indexBodies(project: string): Promise<{ id: string; bytes: number }[]> {
  return runInDurableObject(projectStub(env, project), (_a, state) =>
    state.storage.sql.exec<{ id: string; bytes: number }>("SELECT id, length(body) AS bytes FROM sfp_tasks").toArray(),
  );
}

describe("the project index holds summaries", () => {
  it("lists tasks without payload or result, while GET by id has them whole", async () => {
    const { project, owner, task, lease } = await running({ payload: bigPayload() });
    expect((await finish(lease, { outcome: "succeeded", result: bigResult() })).status).toBe(200);
    const [item] = await listUntil(project, owner, (tasks) => tasks[0]?.status === "succeeded");
    expect(item.id).toBe(task.id);
    expect(item).not.toHaveProperty("payload");
    expect(item).not.toHaveProperty("result");
    for (const key of Object.keys(item)) expect(SUMMARY_FIELDS).toContain(key);
    expect(item).toMatchObject({ type: "deploy", org: "demo", status: "succeeded", attempt: 1, source: { kind: "api" } });
    expect(JSON.stringify(item).length).toBeLessThan(2048);
    const whole = await readTask(owner, task.id);
    expect(whole.payload).toEqual(bigPayload());
    expect(whole.result).toEqual(bigResult());
  });

  it("stores only summaries, so a page of big tasks stays small", async () => {
    const { project, owner } = await setup();
    for (let i = 0; i < 4; i++) await createTask(project, owner, { payload: bigPayload() });
    const tasks = await listUntil(project, owner, (list) => list.length === 4);
    expect(JSON.stringify(tasks).length).toBeLessThan(8 * 1024);
    const rows = await indexBodies(project);
    expect(rows).toHaveLength(4);
    for (const row of rows) expect(row.bytes).toBeLessThan(2048);
  });

  it("answers rows written as whole tasks before summaries without their payload or result", async () => {
    const { project, owner } = await setup();
    const task = await createTask(project, owner);
    await listUntil(project, owner, (list) => list.length === 1);
    const whole: Task = { ...task, payload: bigPayload(), result: bigResult() };
    await runInDurableObject(projectStub(env, project), (_a, state) => {
      state.storage.sql.exec("UPDATE sfp_tasks SET body = ? WHERE id = ?", JSON.stringify(whole), task.id);
    });
    const [item] = await listUntil(project, owner, (list) => list.length === 1);
    expect(item).toMatchObject({ id: task.id, status: "queued" });
    expect(item).not.toHaveProperty("payload");
    expect(item).not.toHaveProperty("result");
  });

  it("sends summaries on the project feed, each message small", async () => {
    const { project, owner } = await setup();
    const feed = (await openSocket(`/v1/projects/${project}/ws`, owner)).socket;
    if (!feed) throw new Error("no feed socket");
    await feed.until((m) => m[0]?.type === "hello");
    const task = await createTask(project, owner, { payload: bigPayload() });
    const [message] = await feed.until((m) => m.some((x) => x.type === "task")).then((m) => m.filter((x) => x.type === "task"));
    expect(message.task).toMatchObject({ id: task.id, status: "queued" });
    expect(message.task).not.toHaveProperty("payload");
    expect(JSON.stringify(message).length).toBeLessThan(2048);
    feed.close();
  });

  it("documents list items as TaskSummary in the OpenAPI document", async () => {
    const doc = (await api("GET", "/v1/openapi.json")).body;
    const summary = doc.components.schemas.TaskSummary;
    expect(Object.keys(summary.properties).sort()).toEqual([...SUMMARY_FIELDS].sort());
    expect(doc.components.schemas.TaskList.properties.tasks.items).toEqual({ $ref: "#/components/schemas/TaskSummary" });
  });
});
