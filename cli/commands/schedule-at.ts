// `--at` of `sfp-edge task create`: an ISO 8601 instant, or `+<n><s|m|h|d>` from now, sent as `runAt`.
import { UsageError } from "../io.ts";

const UNIT_MS: Record<string, number> = { s: 1_000, m: 60_000, h: 3_600_000, d: 86_400_000 };

/** The `runAt` instant (UTC) `value` names; `now` for the relative form. */
export function runAtFlag(value: string, usage: string, now = Date.now()): string {
  const relative = /^\+(\d+)([smhd])$/.exec(value.trim());
  if (relative) return new Date(now + Number(relative[1]) * UNIT_MS[relative[2]]).toISOString();
  // An instant must say its zone (Z or an offset): a bare local time would mean the machine's zone.
  if (!/^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(:\d{2}(\.\d+)?)?(Z|[+-]\d{2}:\d{2})$/.test(value) || Number.isNaN(Date.parse(value))) {
    throw new UsageError(`--at: expected an ISO 8601 instant with Z or an offset (2026-12-24T22:00:00+01:00) or +<n>s|m|h|d, got "${value}"`, usage);
  }
  return new Date(Date.parse(value)).toISOString();
}
