// issue 15: a schedule keeps its wall-clock time in its timezone across DST. The expected UTC instants
// are computed here from the EU rule (summer time from 01:00 UTC on the last Sunday of March to 01:00
// UTC on the last Sunday of October: Berlin is UTC+2 then, UTC+1 otherwise), not from croner.
import { describe, expect, it } from "vitest";
import { setup } from "./helpers.ts";
import { readTask } from "./runner-helpers.ts";
import { alarmAt, putSchedule, runsOf, setClock } from "./schedule-helpers.ts";

/** The day of the month of the last Sunday of `month` (0-based) in `year`. */
function lastSunday(year: number, month: number): number {
  const last = new Date(Date.UTC(year, month + 1, 0));
  return last.getUTCDate() - last.getUTCDay();
}

/** The UTC instant of a Berlin wall-clock time after 03:00 local (so the day's offset is settled). */
function berlin(year: number, month: number, day: number, hour: number, minute: number): string {
  const summerStart = Date.UTC(year, 2, lastSunday(year, 2), 1);
  const summerEnd = Date.UTC(year, 9, lastSunday(year, 9), 1);
  const noon = Date.UTC(year, month, day, 12);
  const offset = noon >= summerStart && noon < summerEnd ? 2 : 1;
  return new Date(Date.UTC(year, month, day, hour - offset, minute)).toISOString();
}

describe("schedules across DST (Europe/Berlin)", () => {
  it("fires 09:30 Berlin at 08:30 UTC before the March change and 07:30 UTC after it", async () => {
    expect(lastSunday(2026, 2)).toBe(29);
    const p = await setup();
    await setClock(p.project, "morning", "2026-03-27T12:00:00Z");
    await putSchedule(p.project, p.owner, "morning", { cron: "30 9 * * *", timezone: "Europe/Berlin", overlap: "queue" });
    const expected = [28, 29, 30].map((day) => berlin(2026, 2, day, 9, 30));
    expect(expected).toEqual(["2026-03-28T08:30:00.000Z", "2026-03-29T07:30:00.000Z", "2026-03-30T07:30:00.000Z"]);
    expect((await runsOf(p.project, p.owner, "morning", 3)).next).toEqual(expected);

    for (const slot of expected) {
      // An alarm a minute early fires nothing; at the slot it fires that slot.
      await alarmAt(p.project, "morning", new Date(Date.parse(slot) - 60_000).toISOString());
      await alarmAt(p.project, "morning", slot);
    }
    const { runs } = await runsOf(p.project, p.owner, "morning");
    expect(runs.map((r) => [r.slot, r.outcome, r.missed])).toEqual([...expected].reverse().map((slot) => [slot, "created", 0]));
    const task = await readTask(p.owner, runs[0].taskId ?? "");
    expect(task.source).toEqual({ kind: "schedule", schedule: "morning", slot: expected[2] });
  });

  it("fires 09:30 Berlin at 07:30 UTC before the October change and 08:30 UTC after it", async () => {
    expect(lastSunday(2026, 9)).toBe(25);
    const p = await setup();
    await setClock(p.project, "morning", "2026-10-23T12:00:00Z");
    await putSchedule(p.project, p.owner, "morning", { cron: "30 9 * * *", timezone: "Europe/Berlin", overlap: "queue" });
    const expected = [24, 25, 26].map((day) => berlin(2026, 9, day, 9, 30));
    expect(expected).toEqual(["2026-10-24T07:30:00.000Z", "2026-10-25T08:30:00.000Z", "2026-10-26T08:30:00.000Z"]);
    expect((await runsOf(p.project, p.owner, "morning", 3)).next).toEqual(expected);
    for (const slot of expected) await alarmAt(p.project, "morning", slot);
    const { runs } = await runsOf(p.project, p.owner, "morning");
    expect(runs.map((r) => r.slot)).toEqual([...expected].reverse());
    expect(runs.every((r) => r.outcome === "created" && r.missed === 0)).toBe(true);
  });

  it("a time the spring change skips fires once right after the gap; one the autumn change repeats fires once", async () => {
    const p = await setup();
    // 02:30 on 29 March 2026 does not exist in Berlin (02:00 CET jumps to 03:00 CEST = 01:00 UTC).
    await setClock(p.project, "night", "2026-03-28T12:00:00Z");
    await putSchedule(p.project, p.owner, "night", { cron: "30 2 * * *", timezone: "Europe/Berlin" });
    expect((await runsOf(p.project, p.owner, "night", 2)).next).toEqual(["2026-03-29T01:00:00.000Z", "2026-03-30T00:30:00.000Z"]);
    // 02:30 on 25 October 2026 happens twice (00:30 UTC in CEST, 01:30 UTC in CET): one slot.
    await setClock(p.project, "night", "2026-10-24T12:00:00Z");
    await putSchedule(p.project, p.owner, "night", { cron: "30 2 * * *", timezone: "Europe/Berlin", enabled: false });
    await putSchedule(p.project, p.owner, "night", { cron: "30 2 * * *", timezone: "Europe/Berlin" });
    expect((await runsOf(p.project, p.owner, "night", 2)).next).toEqual(["2026-10-25T00:30:00.000Z", "2026-10-26T01:30:00.000Z"]);
  });
});
