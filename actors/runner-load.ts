// A runner's heartbeat as the project feed's `runner` message (protocol/live.ts), and the per-runner
// rate limit that keeps a thousand runners from flooding one feed: the dispatcher forwards at most one
// load per runner every FEED_RUNNER_SECONDS, and the feed applies the same limit again.
import { FEED_RUNNER_SECONDS, type RunnerHeartbeatBody, type RunnerLoad } from "../protocol/index.ts";
import { nowIso } from "./sql.ts";

/**
 * The load the feed shows: CPU and RSS of the manager and its workers together when the manager
 * reports them per process (host CPU and the manager's RSS from older managers).
 */
export function runnerLoadOf(runner: { id: string; name: string; slots: number }, pool: string, body: RunnerHeartbeatBody, now: number): RunnerLoad {
  const r = body.resources;
  const jobs = r.jobs ?? [];
  const load: RunnerLoad = {
    id: runner.id,
    name: runner.name,
    pool,
    status: body.state,
    at: nowIso(now),
    cpuPercent: r.manager ? round(r.manager.cpuPercent + jobs.reduce((sum, j) => sum + j.cpuPercent, 0)) : r.cpuPercent,
    memoryRssBytes: r.manager ? r.manager.memoryRssBytes + jobs.reduce((sum, j) => sum + j.memoryRssBytes, 0) : r.memoryRssBytes,
    slots: runner.slots,
    freeSlots: body.freeSlots,
    jobs,
  };
  if (r.cgroup) load.cgroup = r.cgroup;
  return load;
}

function round(n: number): number {
  return Math.round(n * 10) / 10;
}

/** Remembers when each key last went through; memory only (an evicted actor lets one through early). */
export class PerKeyLimit {
  private readonly sentAt = new Map<string, number>();
  private readonly everyMs: number;

  constructor(everyMs = FEED_RUNNER_SECONDS * 1000) {
    this.everyMs = everyMs;
  }

  /** Whether `key` may go now (and, if so, counts it as gone). */
  take(key: string, now = Date.now()): boolean {
    const last = this.sentAt.get(key);
    if (last !== undefined && now - last < this.everyMs) return false;
    if (this.sentAt.size >= 4096) for (const [k, at] of this.sentAt) if (now - at >= this.everyMs) this.sentAt.delete(k);
    this.sentAt.set(key, now);
    return true;
  }
}
