// A schedule's slots from its cron and timezone, through croner (5 fields, minute precision). croner
// reads the fields in the IANA timezone, so a slot keeps its wall-clock time across DST: a time the
// spring change skips fires at the first instant after the gap, a time the autumn change repeats fires once.
import { Cron } from "croner";
import { ApiError } from "../protocol/index.ts";

/** How many overdue slots are counted one by one before the count stops (a long outage of a minutely schedule). */
const MAX_COUNTED = 10_000;

/** The cron, or a 400 naming the field that is wrong. */
export function cronOf(cron: string, timezone: string): Cron {
  try {
    new Intl.DateTimeFormat("en", { timeZone: timezone });
  } catch {
    throw new ApiError("invalid_request", `timezone: not an IANA timezone: ${timezone}`, { field: "timezone" });
  }
  try {
    const parsed = new Cron(cron, { timezone, mode: "5-part" });
    // A pattern that can never match (30 February) has no next run: refused rather than kept silent.
    if (parsed.nextRun(new Date(0)) === null) throw new Error("it never matches");
    return parsed;
  } catch (err) {
    const why = err instanceof Error ? err.message : String(err);
    throw new ApiError("invalid_request", `cron: ${why}`, { field: "cron" });
  }
}

/** The first `n` slots strictly after `after` (ms). */
export function slotsAfter(cron: Cron, after: number, n: number): number[] {
  return cron.nextRuns(n, new Date(after)).map((d) => d.getTime());
}

/** The next slot strictly after `after`, or null. */
export function nextSlot(cron: Cron, after: number): number | null {
  return cron.nextRun(new Date(after))?.getTime() ?? null;
}

/**
 * The slots in (`after`, `now`]: the latest of them and how many came before it (at most MAX_COUNTED
 * are counted; past that the latest is found from `now` backwards), or null when none is due.
 */
export function dueSlots(cron: Cron, after: number, now: number): { latest: number; earlier: number } | null {
  let slot = nextSlot(cron, after);
  if (slot === null || slot > now) return null;
  let earlier = 0;
  for (;;) {
    const next = nextSlot(cron, slot);
    if (next === null || next > now) return { latest: slot, earlier };
    slot = next;
    earlier++;
    if (earlier >= MAX_COUNTED) {
      const latest = cron.previousRuns(1, new Date(now + 1000))[0]?.getTime() ?? slot;
      return { latest: latest > now ? slot : latest, earlier };
    }
  }
}
