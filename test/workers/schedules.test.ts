// issue 15: schedules. The owner API and its errors; each slot fires exactly once (a repeated alarm,
// a reset between the create and its record); eviction between slots loses nothing; a late alarm
// over several slots makes one catch-up run (or none with `missed: skip`); overlap skip vs queue.
// Time is the actor's test clock, alarms are run by the test (schedule-helpers.ts).
import { evictDurableObject, runInDurableObject } from "cloudflare:test";
import { describe, expect, it } from "vitest";
import { taskBrief } from "../../actors/notifier.ts";
import { taskSummary } from "../../protocol/index.ts";
import { api, newToken, setup } from "./helpers.ts";
import { readTask } from "./runner-helpers.ts";
import { alarmAt, putSchedule, runsOf, scheduleActor, scheduledTasks, setClock } from "./schedule-helpers.ts";

const HOURLY = { cron: "0 * * * *", timezone: "UTC" };

describe("schedules API", () => {
  it("owner puts, everyone in the project reads, lists with next runs, deletes", async () => {
    const p = await setup();
    await setClock(p.project, "nightly", "2026-06-01T12:00:00Z");
    const created = await putSchedule(p.project, p.owner, "nightly", { cron: "0 22 * * 1-5", timezone: "Europe/Berlin" });
    expect(created.status).toBe(201);
    // 2026-06-01 is a Monday; Berlin is UTC+2 in summer.
    expect(created.body.schedule).toMatchObject({ name: "nightly", enabled: true, overlap: "skip", missed: "latest", nextRunAt: "2026-06-01T20:00:00.000Z" });
    const replaced = await putSchedule(p.project, p.owner, "nightly", { cron: "0 22 * * 1-5", timezone: "Europe/Berlin", overlap: "queue" });
    expect(replaced.status).toBe(200);
    expect(replaced.body.schedule.overlap).toBe("queue");

    const member = await newToken(p.project, p.owner, "member");
    expect((await putSchedule(p.project, member.token, "other", HOURLY)).status).toBe(403);
    const listed = await api("GET", `/v1/projects/${p.project}/schedules`, { token: member.token });
    expect(listed.status).toBe(200);
    expect(listed.body.schedules.map((s: { name: string; nextRunAt: string }) => [s.name, s.nextRunAt])).toEqual([["nightly", "2026-06-01T20:00:00.000Z"]]);
    const runs = await runsOf(p.project, member.token, "nightly", 3);
    expect(runs).toEqual({ runs: [], next: ["2026-06-01T20:00:00.000Z", "2026-06-02T20:00:00.000Z", "2026-06-03T20:00:00.000Z"] });

    const other = await setup("other");
    expect((await api("GET", `/v1/projects/${p.project}/schedules/nightly`, { token: other.owner })).status).toBe(404);
    expect((await api("DELETE", `/v1/projects/${p.project}/schedules/nightly`, { token: member.token })).status).toBe(403);
    expect((await api("DELETE", `/v1/projects/${p.project}/schedules/nightly`, { token: p.owner })).status).toBe(204);
    const gone = await api("GET", `/v1/projects/${p.project}/schedules/nightly`, { token: p.owner });
    expect(gone.status).toBe(404);
    expect(gone.body.error.code).toBe("not_found");
    expect((await api("GET", `/v1/projects/${p.project}/schedules`, { token: p.owner })).body.schedules).toEqual([]);
  });

  it("refuses a bad cron, timezone, template or name with 400 naming the field", async () => {
    const p = await setup();
    const cases: [string, Record<string, unknown>, string][] = [
      ["a", { cron: "61 * * * *" }, "cron"],
      ["b", { cron: "* * * * * *" }, "cron"],
      ["c", { cron: "0 0 30 2 *" }, "cron"],
      ["d", { cron: "0 0 * * *", timezone: "Mars/Olympus" }, "timezone"],
      ["e", { cron: "0 0 * * *", task: { type: "deploy", org: "nope" } }, "task.org"],
      ["f", { cron: "0 0 * * *", overlap: "sometimes" }, "overlap"],
      ["g", { cron: "0 0 * * *", task: { type: "deploy", org: "demo", runAt: "2030-01-01T00:00:00Z" } }, "task"],
    ];
    for (const [name, body, field] of cases) {
      const res = await putSchedule(p.project, p.owner, name, body);
      expect(res.status, name).toBe(400);
      expect(res.body.error.code, name).toBe("invalid_request");
      expect(res.body.error.field ?? res.body.error.message, name).toContain(field);
      expect(typeof res.body.error.requestId).toBe("string");
    }
    expect((await putSchedule(p.project, p.owner, "-bad", HOURLY)).status).toBe(400);
  });

  it("pause and resume: a paused schedule has no next run and fires nothing; a resumed one does not catch up", async () => {
    const p = await setup();
    await setClock(p.project, "h", "2026-06-01T09:30:00Z");
    await putSchedule(p.project, p.owner, "h", HOURLY);
    const paused = await putSchedule(p.project, p.owner, "h", { ...HOURLY, enabled: false });
    expect(paused.body.schedule.nextRunAt).toBeNull();
    expect((await runsOf(p.project, p.owner, "h")).next).toEqual([]);
    await setClock(p.project, "h", "2026-06-01T12:30:00Z");
    const resumed = await putSchedule(p.project, p.owner, "h", HOURLY);
    expect(resumed.body.schedule.nextRunAt).toBe("2026-06-01T13:00:00.000Z");
    await alarmAt(p.project, "h", "2026-06-01T12:30:01Z");
    expect((await runsOf(p.project, p.owner, "h")).runs).toEqual([]);
  });
});

describe("schedule slots", () => {
  it("an alarm run twice for the same slot makes one task, also after a reset between create and record", async () => {
    const p = await setup();
    await setClock(p.project, "h", "2026-06-01T09:30:00Z");
    await putSchedule(p.project, p.owner, "h", { ...HOURLY, overlap: "queue" });
    await alarmAt(p.project, "h", "2026-06-01T10:00:00Z");
    await alarmAt(p.project, "h", "2026-06-01T10:00:00Z");
    const { runs } = await runsOf(p.project, p.owner, "h");
    expect(runs).toMatchObject([{ slot: "2026-06-01T10:00:00.000Z", outcome: "created", missed: 0 }]);
    const first = runs[0].taskId;
    const task = await readTask(p.owner, first ?? "");
    expect(task.source).toEqual({ kind: "schedule", schedule: "h", slot: "2026-06-01T10:00:00.000Z" });
    expect(task.status).toBe("queued");

    // As if the actor was reset after the task's create but before the slot was settled: the slot is pending again.
    await runInDurableObject(scheduleActor(p.project, "h"), (_instance, state) => {
      state.storage.sql.exec("UPDATE sfp_runs SET outcome = 'pending', task_id = NULL");
    });
    await alarmAt(p.project, "h", "2026-06-01T10:00:05Z");
    expect((await runsOf(p.project, p.owner, "h")).runs).toMatchObject([{ slot: "2026-06-01T10:00:00.000Z", outcome: "created", taskId: first }]);
    expect((await scheduledTasks(p.project, p.owner)).map((t) => t.id)).toEqual([first]);
  });

  it("a slot's task names its schedule and slot, also in outbound notifications", async () => {
    const p = await setup();
    await setClock(p.project, "h", "2026-06-01T09:30:00Z");
    await putSchedule(p.project, p.owner, "h", HOURLY);
    await alarmAt(p.project, "h", "2026-06-01T10:00:00Z");
    const [run] = (await runsOf(p.project, p.owner, "h")).runs;
    const task = await readTask(p.owner, run.taskId ?? "");
    expect(taskBrief(taskSummary(task), null).source).toEqual({ kind: "schedule", schedule: "h", slot: "2026-06-01T10:00:00.000Z" });
  });

  it("an actor evicted between slots loses nothing: its cursor, runs and last task survive", async () => {
    const p = await setup();
    await setClock(p.project, "h", "2026-06-01T09:30:00Z");
    await putSchedule(p.project, p.owner, "h", { ...HOURLY, overlap: "queue" });
    await alarmAt(p.project, "h", "2026-06-01T10:00:00Z");
    await evictDurableObject(scheduleActor(p.project, "h"));
    await alarmAt(p.project, "h", "2026-06-01T11:00:00Z");
    const { runs, next } = await runsOf(p.project, p.owner, "h", 1);
    expect(runs.map((r) => [r.slot, r.outcome, r.missed])).toEqual([
      ["2026-06-01T11:00:00.000Z", "created", 0],
      ["2026-06-01T10:00:00.000Z", "created", 0],
    ]);
    expect(next).toEqual(["2026-06-01T12:00:00.000Z"]);
    expect(await scheduledTasks(p.project, p.owner)).toHaveLength(2);
  });

  it("an alarm late over several slots makes exactly one catch-up run, for the latest slot", async () => {
    const p = await setup();
    await setClock(p.project, "h", "2026-06-01T09:30:00Z");
    await putSchedule(p.project, p.owner, "h", { ...HOURLY, overlap: "queue" });
    // Slots 10:00 … 14:00 are due when the alarm finally runs at 14:20.
    await alarmAt(p.project, "h", "2026-06-01T14:20:00Z");
    await alarmAt(p.project, "h", "2026-06-01T14:20:30Z");
    const { runs, next } = await runsOf(p.project, p.owner, "h", 1);
    expect(runs).toMatchObject([{ slot: "2026-06-01T14:00:00.000Z", outcome: "created", missed: 4 }]);
    expect(next).toEqual(["2026-06-01T15:00:00.000Z"]);
    const tasks = await scheduledTasks(p.project, p.owner);
    expect(tasks.map((t) => t.source.slot)).toEqual(["2026-06-01T14:00:00.000Z"]);
  });

  it("with missed: skip a late alarm makes no task; a timely slot still runs", async () => {
    const p = await setup();
    await setClock(p.project, "h", "2026-06-01T09:30:00Z");
    await putSchedule(p.project, p.owner, "h", { ...HOURLY, missed: "skip", overlap: "queue" });
    await alarmAt(p.project, "h", "2026-06-01T12:20:00Z");
    await alarmAt(p.project, "h", "2026-06-01T13:00:02Z");
    const { runs } = await runsOf(p.project, p.owner, "h");
    expect(runs.map((r) => [r.slot, r.outcome, r.missed, r.taskId === null])).toEqual([
      ["2026-06-01T13:00:00.000Z", "created", 0, false],
      ["2026-06-01T12:00:00.000Z", "skipped_missed", 2, true],
    ]);
    expect(await scheduledTasks(p.project, p.owner)).toHaveLength(1);
  });

  it("overlap skip: no task while the previous one is active, a task once it finished", async () => {
    const p = await setup();
    await setClock(p.project, "h", "2026-06-01T09:30:00Z");
    await putSchedule(p.project, p.owner, "h", HOURLY);
    await alarmAt(p.project, "h", "2026-06-01T10:00:00Z");
    await alarmAt(p.project, "h", "2026-06-01T11:00:00Z");
    let runs = (await runsOf(p.project, p.owner, "h")).runs;
    const first = runs[1].taskId;
    expect(runs.map((r) => [r.slot, r.outcome, r.taskId])).toEqual([
      ["2026-06-01T11:00:00.000Z", "skipped_overlap", first],
      ["2026-06-01T10:00:00.000Z", "created", first],
    ]);
    expect((await api("POST", `/v1/tasks/${first}/cancel`, { token: p.owner })).status).toBe(202);
    await alarmAt(p.project, "h", "2026-06-01T12:00:00Z");
    runs = (await runsOf(p.project, p.owner, "h")).runs;
    expect(runs[0]).toMatchObject({ slot: "2026-06-01T12:00:00.000Z", outcome: "created" });
    expect(runs[0].taskId).not.toBe(first);
    expect(await scheduledTasks(p.project, p.owner)).toHaveLength(2);
  });

  it("overlap queue: a task for every slot while the previous one is still active", async () => {
    const p = await setup();
    await setClock(p.project, "h", "2026-06-01T09:30:00Z");
    await putSchedule(p.project, p.owner, "h", { ...HOURLY, overlap: "queue" });
    await alarmAt(p.project, "h", "2026-06-01T10:00:00Z");
    await alarmAt(p.project, "h", "2026-06-01T11:00:00Z");
    const tasks = await scheduledTasks(p.project, p.owner);
    expect(tasks.map((t) => t.status)).toEqual(["queued", "queued"]);
    expect((await runsOf(p.project, p.owner, "h")).runs.map((r) => r.outcome)).toEqual(["created", "created"]);
  });
});
