// One ScheduleActor per (project, schedule) (issue 15). Its alarm fires each slot exactly once: the
// slot's task id derives from (project, schedule, slot) (common/task-ids.ts), the slot is written as
// `pending` (with the cursor past it) before the task is created, and a retried alarm finishes a
// pending slot with the same id, whose second create answers the first task. Everything lives in
// SQLite, so an evicted actor loses nothing. Policies (README "Schedules"): slots missed while it
// could not run → the latest once (`missed: latest`) or none (`skip`); a slot while the previous task
// is active → no task (`overlap: skip`) or a task anyway (`queue`).
import { DurableObject } from "cloudflare:workers";
import { scheduleTaskId } from "../common/task-ids.ts";
import {
  fromRpcError,
  isTerminal,
  MAX_SCHEDULE_RUNS_KEPT,
  type PutScheduleBody,
  rpcError,
  SCHEDULE_MISSED_GRACE_SECONDS,
  type Schedule,
  type ScheduleRun,
  type ScheduleRuns,
  SCHEDULE_RUN_OUTCOMES,
  type Task,
} from "../protocol/index.ts";
import { projectStub, taskStub, type Env } from "./env.ts";
import { cronOf, dueSlots, nextSlot, slotsAfter } from "./schedule-cron.ts";
import { slotTask } from "./schedule-task.ts";
import { migrate, nowIso } from "./sql.ts";

const MIGRATIONS = [
  [
    // `cursor`: every slot at or before it has been dealt with; `last_task`: the task of the latest run.
    "CREATE TABLE sfp_schedule (id INTEGER PRIMARY KEY CHECK (id = 1), body TEXT NOT NULL, cursor INTEGER NOT NULL, last_task TEXT)",
    "CREATE TABLE sfp_runs (slot INTEGER PRIMARY KEY, fired_at TEXT NOT NULL, outcome TEXT NOT NULL, task_id TEXT, missed INTEGER NOT NULL, error TEXT)",
    // Tests only (written with runInDurableObject, never by this code): a fixed "now" for the slot arithmetic.
    "CREATE TABLE sfp_clock (id INTEGER PRIMARY KEY CHECK (id = 1), now INTEGER NOT NULL)",
  ],
] as const;

/** A pending slot whose create failed (its task actor unreachable) is tried again this much later. */
const RETRY_MS = 10_000;
/** Under a test clock the real alarm is parked this far ahead, so only the test runs it. */
const TEST_ALARM_PARK_MS = 86_400_000;

type Stored = Omit<Schedule, "nextRunAt">;
type RunRow = { slot: number; fired_at: string; outcome: string; task_id: string | null; missed: number; error: string | null };

export class ScheduleActor extends DurableObject<Env> {
  private readonly sql: SqlStorage;

  constructor(ctx: DurableObjectState, env: Env) {
    super(ctx, env);
    this.sql = ctx.storage.sql;
    ctx.blockConcurrencyWhile(async () => migrate(this.sql, MIGRATIONS));
  }

  // ---- the owner's API --------------------------------------------------------------------------

  /** Creates or replaces the schedule (the edge has checked the cron, timezone and template). */
  async put(project: string, name: string, body: PutScheduleBody): Promise<{ schedule: Schedule; created: boolean }> {
    const now = this.now();
    const prev = this.load();
    if (prev && prev.stored.project !== project) throw rpcError("conflict", "schedule name already in use");
    const at = nowIso(now);
    const stored: Stored = { name, project, ...body, createdAt: prev?.stored.createdAt ?? at, updatedAt: at };
    // A new schedule, a new cron or timezone, or a resume counts slots from now: nothing before it catches up.
    const restart = !prev || prev.stored.cron !== body.cron || prev.stored.timezone !== body.timezone || (!prev.stored.enabled && body.enabled);
    const cursor = restart || !prev ? now : prev.cursor;
    this.sql.exec(
      "INSERT INTO sfp_schedule (id, body, cursor) VALUES (1, ?, ?) ON CONFLICT(id) DO UPDATE SET body = excluded.body, cursor = excluded.cursor",
      JSON.stringify(stored),
      cursor,
    );
    await this.arm();
    return { schedule: this.answer(stored, cursor), created: !prev };
  }

  async read(project: string): Promise<Schedule> {
    const { stored, cursor } = this.visible(project);
    return this.answer(stored, cursor);
  }

  async remove(project: string): Promise<void> {
    this.visible(project);
    this.sql.exec("DELETE FROM sfp_schedule");
    this.sql.exec("DELETE FROM sfp_runs");
    await this.ctx.storage.deleteAlarm();
  }

  /** The last `limit` runs, newest first, and the next `next` slots. */
  async runs(project: string, limit: number, next: number): Promise<ScheduleRuns> {
    const { stored, cursor } = this.visible(project);
    const rows = this.sql.exec<RunRow>("SELECT * FROM sfp_runs WHERE outcome != 'pending' ORDER BY slot DESC LIMIT ?", limit).toArray();
    const upcoming = stored.enabled ? slotsAfter(cronOf(stored.cron, stored.timezone), Math.max(cursor, this.now()), next) : [];
    return { runs: rows.map(runOf), next: upcoming.map((ms) => nowIso(ms)) };
  }

  // ---- the alarm: one slot at a time ----------------------------------------------------------

  override async alarm(): Promise<void> {
    try {
      await this.fire();
    } finally {
      await this.arm();
    }
  }

  /** Finishes a pending slot, then deals with the latest due slot once (the earlier ones count as missed). */
  private async fire(): Promise<void> {
    const pending = this.sql.exec<RunRow>("SELECT * FROM sfp_runs WHERE outcome = 'pending'").toArray()[0];
    if (pending) await this.create(pending.slot);
    const loaded = this.load();
    if (!loaded?.stored.enabled) return;
    const { stored, cursor } = loaded;
    const now = this.now();
    const due = dueSlots(cronOf(stored.cron, stored.timezone), cursor, now);
    if (!due) return;
    const { latest: slot, earlier: missed } = due;
    if (stored.missed === "skip" && now - slot > SCHEDULE_MISSED_GRACE_SECONDS * 1000) {
      return this.record(slot, now, "skipped_missed", null, missed);
    }
    if (stored.overlap === "skip" && loaded.lastTask && (await this.active(stored.project, loaded.lastTask))) {
      return this.record(slot, now, "skipped_overlap", loaded.lastTask, missed);
    }
    // The decision is durable before the task exists: a reset from here on finishes this slot, with this id.
    this.record(slot, now, "pending", null, missed);
    await this.create(slot);
  }

  /** Creates the pending slot's task (idempotent by its derived id) and settles the slot. */
  private async create(slot: number): Promise<void> {
    const loaded = this.load();
    if (!loaded) return;
    const { project, name, task: template } = loaded.stored;
    const id = await scheduleTaskId(this.env.TOKEN_SIGNING_KEY, project, name, slot);
    let view: Awaited<ReturnType<ReturnType<typeof projectStub>["view"]>>;
    try {
      view = await projectStub(this.env, project).view();
    } catch (err) {
      if (fromRpcError(err)?.code !== "not_found") throw err;
      return this.settle(slot, "failed", null, "the project no longer exists");
    }
    const input = slotTask(id, project, view, template, name, slot);
    if ("error" in input) return this.settle(slot, "failed", null, input.error);
    try {
      await taskStub(this.env, id).create(input);
    } catch (err) {
      const known = fromRpcError(err);
      if (!known) throw err;
      return this.settle(slot, "failed", null, known.message);
    }
    this.settle(slot, "created", id);
  }

  /** Whether the schedule's previous task is still active (an unknown one is not). */
  private async active(project: string, taskId: string): Promise<boolean> {
    try {
      const task: Task = await taskStub(this.env, taskId).get(project);
      return !isTerminal(task.status);
    } catch (err) {
      if (fromRpcError(err)) return false;
      throw err;
    }
  }

  private record(slot: number, now: number, outcome: string, taskId: string | null, missed: number): void {
    this.sql.exec(
      "INSERT INTO sfp_runs (slot, fired_at, outcome, task_id, missed) VALUES (?, ?, ?, ?, ?) ON CONFLICT(slot) DO NOTHING",
      slot,
      nowIso(now),
      outcome,
      taskId,
      missed,
    );
    this.sql.exec("UPDATE sfp_schedule SET cursor = MAX(cursor, ?)", slot);
    this.sql.exec("DELETE FROM sfp_runs WHERE slot NOT IN (SELECT slot FROM sfp_runs ORDER BY slot DESC LIMIT ?)", MAX_SCHEDULE_RUNS_KEPT);
  }

  private settle(slot: number, outcome: "created" | "failed", taskId: string | null, error?: string): void {
    this.sql.exec("UPDATE sfp_runs SET outcome = ?, task_id = ?, error = ? WHERE slot = ?", outcome, taskId, error ?? null, slot);
    if (taskId) this.sql.exec("UPDATE sfp_schedule SET last_task = ?", taskId);
  }

  /** Points the alarm at the next slot (soon again while a slot is pending); none while disabled. */
  private async arm(): Promise<void> {
    const loaded = this.load();
    if (!loaded?.stored.enabled) return this.ctx.storage.deleteAlarm();
    if (this.sql.exec("SELECT 1 FROM sfp_runs WHERE outcome = 'pending'").toArray().length) {
      return this.ctx.storage.setAlarm(Date.now() + RETRY_MS);
    }
    const { stored, cursor } = loaded;
    const next = nextSlot(cronOf(stored.cron, stored.timezone), Math.max(cursor, this.now()));
    if (next === null) return this.ctx.storage.deleteAlarm();
    return this.ctx.storage.setAlarm(this.testClock() === null ? next : Date.now() + TEST_ALARM_PARK_MS);
  }

  // ---- state ------------------------------------------------------------------------------------

  private load(): { stored: Stored; cursor: number; lastTask: string | null } | null {
    const row = this.sql.exec<{ body: string; cursor: number; last_task: string | null }>("SELECT body, cursor, last_task FROM sfp_schedule").toArray()[0];
    return row ? { stored: JSON.parse(row.body), cursor: row.cursor, lastTask: row.last_task } : null;
  }

  /** The schedule as `project` may see it; another project's is "not found". */
  private visible(project: string): { stored: Stored; cursor: number } {
    const loaded = this.load();
    if (!loaded || loaded.stored.project !== project) throw rpcError("not_found", "no such schedule");
    return loaded;
  }

  private answer(stored: Stored, cursor: number): Schedule {
    const next = stored.enabled ? nextSlot(cronOf(stored.cron, stored.timezone), Math.max(cursor, this.now())) : null;
    return { ...stored, nextRunAt: next === null ? null : nowIso(next) };
  }

  private now(): number {
    return this.testClock() ?? Date.now();
  }

  private testClock(): number | null {
    return this.sql.exec<{ now: number }>("SELECT now FROM sfp_clock").toArray()[0]?.now ?? null;
  }
}

function runOf(row: RunRow): ScheduleRun {
  const outcome = SCHEDULE_RUN_OUTCOMES.find((o) => o === row.outcome) ?? "failed";
  const run: ScheduleRun = { slot: nowIso(row.slot), firedAt: row.fired_at, outcome, taskId: row.task_id, missed: row.missed };
  if (row.error) run.error = row.error;
  return run;
}
