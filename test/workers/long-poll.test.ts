import { describe, expect, it } from "vitest";
import { appendProgress, moveTo } from "./drive.ts";
import { api, createTask, setup, watchTimers } from "./helpers.ts";

describe("long-poll", () => {
  it("answers the moment the version moves", async () => {
    const { project, owner } = await setup();
    const t = await createTask(project, owner);
    const timers = watchTimers();
    const started = Date.now();
    const poll = api("GET", `/v1/tasks/${t.id}?wait=30&version=1`, { token: owner });
    // The actor holds the GET (it armed its 30 s wait) before the version moves.
    await timers.armed(30_000);
    await appendProgress(t.id, 40, "deploying");
    const res = await poll;
    expect(res.status).toBe(200);
    expect(res.body.task.version).toBe(2);
    expect(res.body.task.progress).toEqual({ percent: 40, step: "deploying" });
    // Answered before its wait ran out, so the version move woke it (the timer would answer version 2 too).
    expect(Date.now() - started).toBeLessThan(30_000);
  }, 60_000);

  it("answers at once when the version is already past the one given", async () => {
    const { project, owner } = await setup();
    const t = await createTask(project, owner);
    const res = await api("GET", `/v1/tasks/${t.id}?wait=10&version=0`, { token: owner });
    expect(res.body.task.version).toBe(1);
  });

  it("answers with the unchanged task after the wait", async () => {
    const { project, owner } = await setup();
    const t = await createTask(project, owner);
    const started = Date.now();
    const res = await api("GET", `/v1/tasks/${t.id}?wait=1&version=1`, { token: owner });
    expect(res.status).toBe(200);
    expect(res.body.task.version).toBe(1);
    expect(Date.now() - started).toBeGreaterThanOrEqual(900);
  });

  it("wakes every waiter of the task", async () => {
    const { project, owner } = await setup();
    const t = await createTask(project, owner);
    const timers = watchTimers();
    const started = Date.now();
    const polls = Array.from({ length: 5 }, () => api("GET", `/v1/tasks/${t.id}?wait=30&version=1`, { token: owner }));
    await timers.armed(30_000, 5);
    await moveTo(t.id, "running");
    const answers = await Promise.all(polls);
    expect(answers.map((a) => a.body.task.status)).toEqual(Array(5).fill("running"));
    // Every one answered before its 30 s wait ran out: the move woke them all.
    expect(Date.now() - started).toBeLessThan(30_000);
  }, 60_000);

  it("refuses a wait over 30 s and a wait without a version", async () => {
    const { project, owner } = await setup();
    const t = await createTask(project, owner);
    const long = await api("GET", `/v1/tasks/${t.id}?wait=31&version=1`, { token: owner });
    expect(long.status).toBe(400);
    expect(long.body.error.field).toBe("wait");
    const noVersion = await api("GET", `/v1/tasks/${t.id}?wait=5`, { token: owner });
    expect(noVersion.status).toBe(400);
    expect(noVersion.body.error.field).toBe("version");
  });
});

describe("ETag", () => {
  it("tags the task with its version and answers 304 to If-None-Match until it changes", async () => {
    const { project, owner } = await setup();
    const t = await createTask(project, owner);
    const first = await api("GET", `/v1/tasks/${t.id}`, { token: owner });
    expect(first.headers.get("etag")).toBe('"v1"');
    const same = await api("GET", `/v1/tasks/${t.id}`, { token: owner, headers: { "if-none-match": '"v1"' } });
    expect(same.status).toBe(304);
    await appendProgress(t.id, 10);
    const changed = await api("GET", `/v1/tasks/${t.id}`, { token: owner, headers: { "if-none-match": '"v1"' } });
    expect(changed.status).toBe(200);
    expect(changed.headers.get("etag")).toBe('"v2"');
  });
});
