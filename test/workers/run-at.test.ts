// issue 15: a task created with a future `runAt` is `scheduled` at once, cancelable, and its own
// actor's alarm hands it to the queue (or its org's lock) at its time, as an immediate task is handed.
// The timer is made due with fireTimers instead of sleeping through the wait.
import { runDurableObjectAlarm } from "cloudflare:test";
import { describe, expect, it } from "vitest";
import { MAX_RUN_AT_DAYS } from "../../protocol/index.ts";
import { api, createTask, setup } from "./helpers.ts";
import { dispatcher, fireTimers, poll, pollOne, readTask, register, taskActor, timerNames } from "./runner-helpers.ts";

const inSeconds = (s: number) => new Date(Date.now() + s * 1000).toISOString();

async function eventually(check: () => Promise<boolean>): Promise<void> {
  for (let i = 0; i < 200; i++) {
    if (await check()) return;
    await new Promise((r) => setTimeout(r, 25));
  }
  throw new Error("condition not reached");
}

describe("runAt", () => {
  it("a task 2 s ahead is scheduled, then queued and offered when its alarm runs", async () => {
    const p = await setup();
    const runner = await register(p.project, p.owner);
    const runAt = inSeconds(2);
    const task = await createTask(p.project, p.owner, { type: "run-tests", runAt });
    expect(task.status).toBe("scheduled");
    expect(task.runAt).toBe(runAt);
    expect(await dispatcher(p.project).queued()).toEqual([]);
    const listed = await api("GET", `/v1/projects/${p.project}/tasks?status=scheduled`, { token: p.owner });
    expect(listed.body.tasks.map((t: { id: string }) => t.id)).toEqual([task.id]);
    expect(listed.body.tasks[0].runAt).toBe(runAt);

    // An alarm before its time (at-least-once alarms) queues nothing.
    await runDurableObjectAlarm(taskActor(task.id));
    expect((await readTask(p.owner, task.id)).status).toBe("scheduled");

    expect(await fireTimers(taskActor(task.id), "run-at")).toBe(true);
    const queued = await readTask(p.owner, task.id);
    expect(queued.status).toBe("queued");
    expect(await dispatcher(p.project).queued()).toEqual([task.id]);
    const events = await api("GET", `/v1/tasks/${task.id}/events`, { token: p.owner });
    expect(events.body.events.map((e: { status?: string }) => e.status)).toEqual(["scheduled", "queued"]);
    expect((await pollOne(runner.runnerToken)).taskId).toBe(task.id);
  });

  it("a deploy at its time asks its org's lock, as an immediate deploy does", async () => {
    const p = await setup();
    const task = await createTask(p.project, p.owner, { type: "deploy", runAt: inSeconds(60) });
    expect(task.status).toBe("scheduled");
    await fireTimers(taskActor(task.id), "run-at");
    await eventually(async () => (await dispatcher(p.project).queued()).includes(task.id));
    expect((await readTask(p.owner, task.id)).status).toBe("queued");
  });

  it("canceled before its time it is never queued nor offered", async () => {
    const p = await setup();
    const runner = await register(p.project, p.owner);
    const task = await createTask(p.project, p.owner, { type: "run-tests", runAt: inSeconds(2) });
    const canceled = await api("POST", `/v1/tasks/${task.id}/cancel`, { token: p.owner });
    expect(canceled.status).toBe(202);
    expect(canceled.body.task.status).toBe("canceled");
    expect(await timerNames(taskActor(task.id))).not.toContain("run-at");
    // Even an alarm that comes anyway leaves it canceled.
    await fireTimers(taskActor(task.id));
    expect((await readTask(p.owner, task.id)).status).toBe("canceled");
    expect(await dispatcher(p.project).queued()).toEqual([]);
    const polled = await poll(runner.runnerToken);
    expect(polled.status === 204 || polled.body.assignments.length === 0).toBe(true);
  });

  it("an instant not in the future queues the task now; too far ahead or not ISO 8601 is a 400 naming runAt", async () => {
    const p = await setup();
    const past = await createTask(p.project, p.owner, { type: "run-tests", runAt: "2020-01-01T00:00:00Z" });
    expect(past.status).toBe("queued");
    expect(past.runAt).toBeUndefined();
    for (const runAt of [inSeconds((MAX_RUN_AT_DAYS + 1) * 86_400), "tomorrow", "2030-01-01 10:00", 42]) {
      const res = await api("POST", `/v1/projects/${p.project}/tasks`, { token: p.owner, body: { type: "run-tests", org: "demo", runAt } });
      expect(res.status, String(runAt)).toBe(400);
      expect(res.body.error.code).toBe("invalid_request");
      expect(res.body.error.field).toBe("runAt");
      expect(typeof res.body.error.requestId).toBe("string");
    }
    const near = new Date(Date.now() + 3600_000);
    const withOffset = `${new Date(near.getTime() + 2 * 3600_000).toISOString().slice(0, 19)}+02:00`;
    const ok = await createTask(p.project, p.owner, { type: "run-tests", runAt: withOffset });
    expect(ok.status).toBe("scheduled");
    expect(ok.runAt).toBe(new Date(Date.parse(withOffset)).toISOString());
  });
});
