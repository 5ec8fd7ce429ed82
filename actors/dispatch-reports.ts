// What a DispatcherActor tells the world outside its pool, all best effort and off the caller's
// answer: the queue's depth and age to the metrics, each runner's load to the project feed (issue 16,
// rate-limited per runner), and the signed wake nudge to the pool's origin (wake.ts).
import type { RunnerHeartbeatBody } from "../protocol/index.ts";
import { projectStub, type Env } from "./env.ts";
import { gauge } from "./metrics.ts";
import { QUEUE_OLDEST } from "./metrics-actor.ts";
import type { PoolIdentity } from "./dispatch-pool.ts";
import { PerKeyLimit, runnerLoadOf } from "./runner-load.ts";
import { originOf, sendWake } from "./wake.ts";

/** A burst of arrivals wakes the origin once, not once per task. */
const WAKE_MIN_INTERVAL_MS = 1_000;
/** How often at most the queue's gauges are recomputed (metrics.ts sends them on its own linger anyway). */
const QUEUE_REPORT_MS = 200;

export class PoolReports {
  private readonly ctx: DurableObjectState;
  private readonly env: Env;
  private readonly pool: PoolIdentity;
  private lastWake = 0;
  private queueTimer: ReturnType<typeof setTimeout> | null = null;
  /** When each runner's load last went to the project feed. */
  private readonly loadLimit = new PerKeyLimit();

  constructor(ctx: DurableObjectState, env: Env, pool: PoolIdentity) {
    this.ctx = ctx;
    this.env = env;
    this.pool = pool;
  }

  /**
   * The queue's depth and oldest entry to the edge's metrics (actors/metrics.ts), at most every
   * QUEUE_REPORT_MS: counting the queue is a scan, and once per admitted task it made a backlog of n
   * cost n² (B1).
   */
  queue(): void {
    if (this.queueTimer) return;
    this.queueTimer = setTimeout(() => {
      this.queueTimer = null;
      this.queueNow();
    }, QUEUE_REPORT_MS);
  }

  private queueNow(): void {
    const identity = this.pool.get();
    if (!identity) return;
    const { n, oldest } = this.ctx.storage.sql
      .exec<{ n: number; oldest: string | null }>("SELECT COUNT(*) AS n, MIN(created_at) AS oldest FROM sfp_queue")
      .one();
    const labels = { project: identity.project, pool: identity.pool };
    this.ctx.waitUntil(gauge(this.env, "sfp_queue_depth", labels, n));
    this.ctx.waitUntil(gauge(this.env, QUEUE_OLDEST, labels, oldest ? Date.parse(oldest) : 0));
  }

  /** The runner's load to the project feed; a failed push waits for the next heartbeat. */
  load(runner: { id: string; name: string; slots: number }, body: RunnerHeartbeatBody, now: number): void {
    const identity = this.pool.get();
    if (!identity || !this.loadLimit.take(runner.id, now)) return;
    const load = runnerLoadOf(runner, identity.pool, body, now);
    this.ctx.waitUntil(
      projectStub(this.env, identity.project)
        .runnerLoad(load)
        .then(
          () => undefined,
          () => undefined,
        ),
    );
  }

  /**
   * Nudges the pool's origin (POOL_ORIGINS) with one signed `POST /v1/wake`, so that a runner
   * manager that scales to zero can start a runner. Best effort: the task waits in the queue anyway.
   */
  wake(queued: () => number): void {
    const id = this.pool.get();
    const secret = this.env.ORIGIN_TOKEN;
    const origin = id ? originOf(this.env.POOL_ORIGINS, id.project, id.pool) : null;
    if (!id || !secret || !origin) return;
    const now = Date.now();
    if (now - this.lastWake < WAKE_MIN_INTERVAL_MS) return;
    this.lastWake = now;
    this.ctx.waitUntil(sendWake(origin, secret, { project: id.project, pool: id.pool, queued: queued() }, now));
  }
}
