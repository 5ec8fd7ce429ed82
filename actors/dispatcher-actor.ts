// One DispatcherActor per (project, pool): the queue of runnable tasks, the pool's runner registry,
// the long-polls its runners park here, and the assignments it hands them (DESIGN.md §2 "Runner
// protocol"). An assignment is only an offer: the TaskActor's accept decides who holds the lease, so
// a race between runners, a lost answer or an expired offer can never give one task two leases.
import { DurableObject } from "cloudflare:workers";
import { timings } from "../common/timings.ts";
import { taskStub, type Env } from "./env.ts";
import {
  newId,
  NO_RUNNER,
  rpcError,
  type Accepted,
  type Assignment,
  type Resources,
  type RunnerAction,
  type RunnerHeartbeatBody,
  type RunnerInfo,
} from "../protocol/index.ts";
import { migrate, nowIso } from "./sql.ts";
import type { AcceptAnswer, QueueEntry } from "../common/messages.ts";
import { Timers, TIMERS_TABLE } from "./timers.ts";
import { originOf, sendWake } from "./wake.ts";

const MIGRATIONS = [
  [
    `CREATE TABLE sfp_queue (task_id TEXT PRIMARY KEY, rank INTEGER NOT NULL, created_at TEXT NOT NULL,
       attempt INTEGER NOT NULL, labels TEXT NOT NULL, enqueued_at INTEGER NOT NULL)`,
    "CREATE INDEX sfp_queue_order ON sfp_queue (rank, created_at, task_id)",
  ],
  [
    // The offer a queued task is under, if any: such a task is not offered to anyone else.
    "ALTER TABLE sfp_queue ADD COLUMN assignment_id TEXT",
    // gone: null while registered, else 'deregistered' or 'revoked' (kept so their calls answer 401).
    `CREATE TABLE sfp_runners (id TEXT PRIMARY KEY, name TEXT NOT NULL, labels TEXT NOT NULL, slots INTEGER NOT NULL,
       ephemeral INTEGER NOT NULL, version TEXT NOT NULL, state TEXT NOT NULL, free_slots INTEGER NOT NULL,
       active_tasks TEXT NOT NULL, resources TEXT, registered_at TEXT NOT NULL, last_seen INTEGER NOT NULL,
       drain INTEGER NOT NULL DEFAULT 0, jobs INTEGER NOT NULL DEFAULT 0, gone TEXT)`,
    // state: offered | accepted | expired | withdrawn
    `CREATE TABLE sfp_assignments (id TEXT PRIMARY KEY, task_id TEXT NOT NULL, runner_id TEXT NOT NULL,
       accept_by INTEGER NOT NULL, state TEXT NOT NULL)`,
    "CREATE INDEX sfp_assignments_by_task ON sfp_assignments (task_id)",
    "CREATE INDEX sfp_assignments_by_runner ON sfp_assignments (runner_id, state)",
    // The leases runners hold, as far as this pool knows: for revocation, cancel actions, ephemeral runners.
    "CREATE TABLE sfp_leases (task_id TEXT PRIMARY KEY, runner_id TEXT NOT NULL, epoch INTEGER NOT NULL, cancel INTEGER NOT NULL DEFAULT 0)",
    "CREATE INDEX sfp_leases_by_runner ON sfp_leases (runner_id)",
    // The highest attempt of each task that has left the queue, so that a late or repeated enqueue
    // from a TaskActor's outbox (at-least-once) never puts an accepted or finished attempt back.
    "CREATE TABLE sfp_left (task_id TEXT PRIMARY KEY, attempt INTEGER NOT NULL, at INTEGER NOT NULL)",
    "CREATE TABLE sfp_meta (key TEXT PRIMARY KEY, value TEXT NOT NULL)",
    TIMERS_TABLE,
  ],
] as const;

/** critical before normal before batch; FIFO inside one. */
export const PRIORITY_RANK = { critical: 0, normal: 1, batch: 2 } as const;

/** An attempt number no requeue reaches: the task left the queue for good (canceled, failed). */
const FINAL = Number.MAX_SAFE_INTEGER;
/** How long the queue remembers the attempts that left it (outbox retries end well before). */
const LEFT_TTL_MS = 7 * 86_400_000;
/** Answers to ended assignments are kept this long, so that a late retry still gets a clean 409. */
const ASSIGNMENT_TTL_MS = 86_400_000;
/** How often the memory of departed attempts and ended offers is pruned. */
const PRUNE_EVERY_MS = 86_400_000;
/** A burst of arrivals wakes the origin once, not once per task. */
const WAKE_MIN_INTERVAL_MS = 1_000;
/** When failing an unrunnable task could not reach its actor, try again this much later. */
const TTL_RETRY_MS = 10_000;

interface Parked {
  runnerId: string;
  freeSlots: number;
  resolve: (offers: Assignment[]) => void;
  timer: ReturnType<typeof setTimeout>;
}

type RunnerRow = {
  id: string;
  name: string;
  labels: string;
  slots: number;
  ephemeral: number;
  version: string;
  state: RunnerInfo["state"];
  free_slots: number;
  active_tasks: string;
  resources: string | null;
  registered_at: string;
  last_seen: number;
  drain: number;
  jobs: number;
  gone: string | null;
};

type AssignmentRow = { id: string; task_id: string; runner_id: string; accept_by: number; state: string };

export interface NewRunner {
  id: string;
  name: string;
  labels: string[];
  slots: number;
  ephemeral: boolean;
  version: string;
}

export class DispatcherActor extends DurableObject<Env> {
  private readonly timers: Timers;
  private parked: Parked[] = [];
  private lastWake = 0;

  constructor(ctx: DurableObjectState, env: Env) {
    super(ctx, env);
    this.timers = new Timers(ctx.storage);
    ctx.blockConcurrencyWhile(async () => migrate(ctx.storage.sql, MIGRATIONS));
  }

  private get sql(): SqlStorage {
    return this.ctx.storage.sql;
  }

  // ---- the queue ----------------------------------------------------------------------------------

  /**
   * Queues a task (idempotent: the TaskActor's outbox may deliver the same entry more than once),
   * hands it to a parked poll that can take it, or else wakes the pool's origin.
   */
  async enqueue(entry: QueueEntry): Promise<void> {
    await this.enqueueMany([entry]);
  }

  /** Queues a batch (the ingest actors' group commit) with one dispatch and at most one wake. */
  async enqueueMany(entries: QueueEntry[]): Promise<void> {
    if (entries.length) this.remember(entries[0].project, entries[0].pool);
    const admitted = entries.filter((e) => this.admit(e));
    if (!admitted.length) return;
    this.dispatch();
    await this.timers.arm();
    if (admitted.some((e) => this.waiting(e.taskId))) this.wake();
  }

  /** Writes one entry into the queue; false when it is a repeat or an attempt that already left. */
  private admit(entry: QueueEntry): boolean {
    const left = this.sql.exec<{ attempt: number }>("SELECT attempt FROM sfp_left WHERE task_id = ?", entry.taskId).toArray()[0];
    if (left && left.attempt >= entry.attempt) return false;
    const now = Date.now();
    // A requeue follows a lease that ended; whatever this pool knew of it is over.
    this.sql.exec("DELETE FROM sfp_leases WHERE task_id = ?", entry.taskId);
    const written = this.sql.exec(
      `INSERT INTO sfp_queue (task_id, rank, created_at, attempt, labels, enqueued_at) VALUES (?, ?, ?, ?, ?, ?)
       ON CONFLICT(task_id) DO UPDATE SET attempt = excluded.attempt, enqueued_at = excluded.enqueued_at, assignment_id = NULL
       WHERE excluded.attempt > sfp_queue.attempt`,
      entry.taskId,
      PRIORITY_RANK[entry.priority],
      entry.createdAt,
      entry.attempt,
      JSON.stringify(entry.labels),
      now,
    ).rowsWritten;
    if (!written) return false;
    this.timers.set(`ttl:${entry.taskId}`, now + timings(this.env).queueTtlSeconds * 1000);
    if (this.timers.get("prune") === null) this.timers.set("prune", now + PRUNE_EVERY_MS);
    return true;
  }

  /** Takes a task out of the queue for good (a client canceled it); a pending offer is withdrawn. */
  async remove(taskId: string): Promise<boolean> {
    const row = this.queueRow(taskId);
    this.sql.exec("UPDATE sfp_assignments SET state = 'withdrawn' WHERE task_id = ? AND state = 'offered'", taskId);
    if (row?.assignment_id) this.timers.clear(`accept:${row.assignment_id}`);
    this.leave(taskId, FINAL);
    await this.timers.arm();
    return Boolean(row);
  }

  async queued(): Promise<string[]> {
    return this.sql
      .exec<{ task_id: string }>("SELECT task_id FROM sfp_queue ORDER BY rank, created_at, task_id")
      .toArray()
      .map((r) => r.task_id);
  }

  private queueRow(taskId: string) {
    return this.sql
      .exec<{ task_id: string; labels: string; attempt: number; assignment_id: string | null }>(
        "SELECT task_id, labels, attempt, assignment_id FROM sfp_queue WHERE task_id = ?",
        taskId,
      )
      .toArray()[0];
  }

  private waiting(taskId: string): boolean {
    const row = this.queueRow(taskId);
    return Boolean(row && !row.assignment_id);
  }

  /** Removes the task from the queue, remembering that `attempt` left it. */
  private leave(taskId: string, attempt: number): void {
    const now = Date.now();
    this.sql.exec("DELETE FROM sfp_queue WHERE task_id = ?", taskId);
    this.sql.exec(
      `INSERT INTO sfp_left (task_id, attempt, at) VALUES (?, ?, ?)
       ON CONFLICT(task_id) DO UPDATE SET attempt = MAX(attempt, excluded.attempt), at = excluded.at`,
      taskId,
      attempt,
      now,
    );
    this.timers.clear(`ttl:${taskId}`);
  }

  // ---- offers -------------------------------------------------------------------------------------

  /**
   * Offers the runner what it can take: the oldest task of the highest priority whose labels are all
   * among the runner's, up to its free slots less its pending offers. Draining and spent ephemeral
   * runners are offered nothing. Writes the offers and their accept deadlines; the caller arms.
   */
  private offer(runnerId: string, freeSlots: number): Assignment[] {
    const runner = this.runnerRow(runnerId);
    if (!runner || runner.gone || runner.drain || runner.state === "draining") return [];
    const now = Date.now();
    const pending = this.sql
      .exec<{ n: number }>("SELECT COUNT(*) AS n FROM sfp_assignments WHERE runner_id = ? AND state = 'offered' AND accept_by > ?", runnerId, now)
      .one().n;
    const leased = this.sql.exec<{ n: number }>("SELECT COUNT(*) AS n FROM sfp_leases WHERE runner_id = ?", runnerId).one().n;
    // An ephemeral runner runs one job in its life.
    const capacity = runner.ephemeral ? (runner.jobs > 0 || leased > 0 || pending > 0 ? 0 : 1) : Math.min(freeSlots, runner.slots) - pending;
    if (capacity <= 0) return [];
    const labels = new Set(JSON.parse(runner.labels) as string[]);
    const acceptBy = now + timings(this.env).acceptSeconds * 1000;
    const offers: Assignment[] = [];
    // Walk the queue in order only as far as needed: a deep backlog must not make every poll a scan.
    const chosen: string[] = [];
    for (const row of this.sql.exec<{ task_id: string; labels: string }>(
      "SELECT task_id, labels FROM sfp_queue WHERE assignment_id IS NULL ORDER BY rank, created_at, task_id",
    )) {
      if (chosen.length >= capacity) break;
      if ((JSON.parse(row.labels) as string[]).every((l) => labels.has(l))) chosen.push(row.task_id);
    }
    for (const taskId of chosen) {
      const id = newId("asg");
      this.sql.exec("UPDATE sfp_queue SET assignment_id = ? WHERE task_id = ?", id, taskId);
      this.sql.exec("INSERT INTO sfp_assignments (id, task_id, runner_id, accept_by, state) VALUES (?, ?, ?, ?, 'offered')", id, taskId, runnerId, acceptBy);
      this.timers.set(`accept:${id}`, acceptBy);
      offers.push({ taskId, assignmentId: id, acceptBy: nowIso(acceptBy) });
      log("info", "task offered", { taskId, runnerId, assignmentId: id });
    }
    return offers;
  }

  /** Answers every parked poll that has something to take now. */
  private dispatch(): void {
    for (const parked of [...this.parked]) {
      const offers = this.offer(parked.runnerId, parked.freeSlots);
      if (offers.length) this.unpark(parked, offers);
    }
  }

  private unpark(parked: Parked, offers: Assignment[]): void {
    clearTimeout(parked.timer);
    this.parked = this.parked.filter((p) => p !== parked);
    parked.resolve(offers);
  }

  /** An offer not accepted in time: the task goes back to the queue for the next poll. */
  private expireOffer(a: AssignmentRow): void {
    this.sql.exec("UPDATE sfp_assignments SET state = 'expired' WHERE id = ? AND state = 'offered'", a.id);
    this.sql.exec("UPDATE sfp_queue SET assignment_id = NULL WHERE task_id = ? AND assignment_id = ?", a.task_id, a.id);
    this.timers.clear(`accept:${a.id}`);
    log("info", "offer expired", { taskId: a.task_id, runnerId: a.runner_id, assignmentId: a.id });
  }

  private assignment(id: string): AssignmentRow | undefined {
    return this.sql.exec<AssignmentRow>("SELECT * FROM sfp_assignments WHERE id = ?", id).toArray()[0];
  }

  // ---- runner calls -------------------------------------------------------------------------------

  async registerRunner(project: string, pool: string, runner: NewRunner): Promise<void> {
    this.remember(project, pool);
    const now = Date.now();
    this.sql.exec(
      `INSERT INTO sfp_runners (id, name, labels, slots, ephemeral, version, state, free_slots, active_tasks, registered_at, last_seen)
       VALUES (?, ?, ?, ?, ?, ?, 'idle', ?, '[]', ?, ?) ON CONFLICT(id) DO NOTHING`,
      runner.id,
      runner.name,
      JSON.stringify([...new Set(runner.labels)].sort()),
      runner.slots,
      runner.ephemeral ? 1 : 0,
      runner.version,
      runner.slots,
      nowIso(now),
      now,
    );
    log("info", "runner registered", { runnerId: runner.id, project, pool, ephemeral: runner.ephemeral });
  }

  /**
   * A runner's long-poll: its offers at once if there are any, else it is parked until a matching
   * task arrives or `waitSeconds` pass (then an empty answer). Parked polls live in memory only: if
   * the actor is evicted the call fails and the edge asks again, while the offers already made are
   * stored and go back to the queue at their accept deadline if nobody accepts them.
   */
  async poll(runnerId: string, freeSlots: number, waitSeconds: number): Promise<Assignment[]> {
    this.liveRunner(runnerId);
    this.sql.exec("UPDATE sfp_runners SET last_seen = ?, free_slots = ? WHERE id = ?", Date.now(), freeSlots, runnerId);
    const offers = this.offer(runnerId, freeSlots);
    await this.timers.arm();
    if (offers.length || waitSeconds <= 0) return offers;
    // One parked poll per runner: a newer one means the older one's connection is gone.
    for (const old of this.parked.filter((p) => p.runnerId === runnerId)) this.unpark(old, []);
    return new Promise<Assignment[]>((resolve) => {
      const parked: Parked = { runnerId, freeSlots, resolve, timer: setTimeout(() => this.unpark(parked, []), waitSeconds * 1000) };
      this.parked.push(parked);
    });
  }

  /**
   * A runner accepts an offer. The task's actor decides; this checks the offer is the runner's and
   * still open. An expired offer is still answered if the task had already granted it (its answer
   * was lost), but never granted anew.
   */
  async accept(runnerId: string, taskId: string, assignmentId: string): Promise<Accepted> {
    this.liveRunner(runnerId);
    const a = this.assignment(assignmentId);
    if (!a || a.task_id !== taskId || a.runner_id !== runnerId) throw rpcError("assignment_expired", "no such assignment for this runner");
    if (a.state === "offered" && a.accept_by <= Date.now()) {
      this.expireOffer(a);
      this.dispatch();
      await this.timers.arm();
    }
    const open = this.assignment(assignmentId)?.state;
    const { accepted, refused } = await this.askTask(taskId, { assignmentId, runnerId, grant: open === "offered" });
    if (!accepted) {
      if (!refused) throw rpcError("internal", "the task answered neither a lease nor a refusal");
      if (refused.wanted) {
        if (this.assignment(assignmentId)?.state === "offered") this.expireOffer(a);
      } else {
        // The task no longer wants a runner (canceled, finished, or running under another lease).
        const row = this.queueRow(taskId);
        if (row) this.leave(taskId, refused.attempt);
        this.sql.exec("UPDATE sfp_assignments SET state = 'withdrawn' WHERE id = ? AND state = 'offered'", assignmentId);
        this.timers.clear(`accept:${assignmentId}`);
      }
      this.dispatch();
      await this.timers.arm();
      throw rpcError(refused.code, refused.message);
    }
    const first = this.sql.exec("UPDATE sfp_assignments SET state = 'accepted' WHERE id = ? AND state != 'accepted'", assignmentId).rowsWritten > 0;
    if (this.queueRow(taskId)) this.leave(taskId, accepted.task.attempt);
    this.timers.clear(`accept:${assignmentId}`);
    this.sql.exec(
      `INSERT INTO sfp_leases (task_id, runner_id, epoch) VALUES (?, ?, ?)
       ON CONFLICT(task_id) DO UPDATE SET runner_id = excluded.runner_id, epoch = excluded.epoch WHERE excluded.epoch >= sfp_leases.epoch`,
      taskId,
      runnerId,
      accepted.leaseEpoch,
    );
    if (first) this.sql.exec("UPDATE sfp_runners SET jobs = jobs + 1, last_seen = ? WHERE id = ?", Date.now(), runnerId);
    await this.timers.arm();
    return accepted;
  }

  /** The task's accept, typed as it declares it (RPC typing turns a Task, which holds `unknown`, into `never`). */
  private askTask(taskId: string, offer: { assignmentId: string; runnerId: string; grant: boolean }): Promise<AcceptAnswer> {
    return taskStub(this.env, taskId).accept(this.identity().project, offer);
  }

  /** A runner's heartbeat: records its state and resources, answers what it should do. */
  async heartbeat(runnerId: string, body: RunnerHeartbeatBody): Promise<RunnerAction[]> {
    const runner = this.liveRunner(runnerId);
    this.sql.exec(
      "UPDATE sfp_runners SET state = ?, free_slots = ?, active_tasks = ?, resources = ?, last_seen = ? WHERE id = ?",
      body.state,
      body.freeSlots,
      JSON.stringify(body.activeTasks),
      JSON.stringify(body.resources),
      Date.now(),
      runnerId,
    );
    const actions: RunnerAction[] = this.sql
      .exec<{ task_id: string }>("SELECT task_id FROM sfp_leases WHERE runner_id = ? AND cancel = 1 ORDER BY task_id", runnerId)
      .toArray()
      .map((r) => ({ type: "cancel", taskId: r.task_id }));
    if (runner.drain && body.state !== "draining") actions.push({ type: "drain" });
    return actions;
  }

  /** `DELETE /v1/runners/self`: repeated calls of a deregistered runner succeed; a revoked one's do not. */
  async deregister(runnerId: string): Promise<void> {
    const runner = this.runnerRow(runnerId);
    if (runner?.gone === "deregistered") return;
    this.liveRunner(runnerId);
    this.sql.exec("UPDATE sfp_runners SET gone = 'deregistered' WHERE id = ?", runnerId);
    log("info", "runner deregistered", { runnerId });
    await this.dropRunner(runnerId);
  }

  // ---- owner calls --------------------------------------------------------------------------------

  /** Revokes a runner: its next call answers 401, its offers and leases go back to the queue. */
  async revoke(runnerId: string): Promise<void> {
    const runner = this.runnerRow(runnerId);
    if (!runner) throw rpcError("not_found", "no such runner");
    if (runner.gone === "revoked") return;
    this.sql.exec("UPDATE sfp_runners SET gone = 'revoked' WHERE id = ?", runnerId);
    log("info", "runner revoked", { runnerId });
    await this.dropRunner(runnerId);
  }

  /** Asks a runner to drain: it is offered nothing more, and its next heartbeat answer says `drain`. */
  async requestDrain(runnerId: string): Promise<void> {
    const runner = this.runnerRow(runnerId);
    if (!runner || runner.gone) throw rpcError("not_found", "no such runner");
    this.sql.exec("UPDATE sfp_runners SET drain = 1 WHERE id = ?", runnerId);
    for (const p of this.parked.filter((p) => p.runnerId === runnerId)) this.unpark(p, []);
  }

  async listRunners(): Promise<RunnerInfo[]> {
    const pool = this.identityOrNull()?.pool ?? "";
    const offlineAfter = timings(this.env).leaseSeconds * 1000;
    const now = Date.now();
    return this.sql
      .exec<RunnerRow>("SELECT * FROM sfp_runners WHERE gone IS NULL ORDER BY registered_at, id")
      .toArray()
      .map((r) => ({
        id: r.id,
        name: r.name,
        pool,
        labels: JSON.parse(r.labels) as string[],
        slots: r.slots,
        ephemeral: r.ephemeral === 1,
        version: r.version,
        state: now - r.last_seen > offlineAfter ? "offline" : r.drain ? "draining" : r.state,
        freeSlots: r.free_slots,
        activeTasks: JSON.parse(r.active_tasks) as string[],
        resources: r.resources ? (JSON.parse(r.resources) as Resources) : null,
        registeredAt: r.registered_at,
        lastSeenAt: nowIso(r.last_seen),
      }));
  }

  // ---- from the task actors (their outbox) --------------------------------------------------------

  /** A lease ended (finished, lapsed or revoked). An ephemeral runner's one job is then done. */
  async released(taskId: string, epoch: number): Promise<void> {
    const lease = this.sql.exec<{ runner_id: string }>("SELECT runner_id FROM sfp_leases WHERE task_id = ? AND epoch <= ?", taskId, epoch).toArray()[0];
    this.sql.exec("DELETE FROM sfp_leases WHERE task_id = ? AND epoch <= ?", taskId, epoch);
    if (!lease) return;
    const runner = this.runnerRow(lease.runner_id);
    if (runner?.ephemeral && !runner.gone) {
      this.sql.exec("UPDATE sfp_runners SET gone = 'deregistered' WHERE id = ?", runner.id);
      for (const p of this.parked.filter((p) => p.runnerId === runner.id)) this.unpark(p, []);
      log("info", "ephemeral runner deregistered after its job", { runnerId: runner.id, taskId });
    }
  }

  /** A client canceled a running task: the runner's next heartbeat answer carries a cancel action. */
  async cancelRequested(taskId: string, epoch: number): Promise<void> {
    this.sql.exec("UPDATE sfp_leases SET cancel = 1 WHERE task_id = ? AND epoch = ?", taskId, epoch);
  }

  // ---- alarm: accept deadlines and queue TTLs -----------------------------------------------------

  override async alarm(): Promise<void> {
    for (const name of this.timers.takeDue(Date.now())) {
      if (name.startsWith("accept:")) {
        const a = this.assignment(name.slice("accept:".length));
        if (a?.state === "offered") this.expireOffer(a);
      } else if (name.startsWith("ttl:")) {
        await this.queueTtl(name.slice("ttl:".length));
      } else if (name === "prune") {
        const now = Date.now();
        this.sql.exec("DELETE FROM sfp_left WHERE at < ?", now - LEFT_TTL_MS);
        this.sql.exec("DELETE FROM sfp_assignments WHERE state != 'offered' AND accept_by < ?", now - ASSIGNMENT_TTL_MS);
        if (this.sql.exec<{ n: number }>("SELECT COUNT(*) AS n FROM sfp_left").one().n > 0) this.timers.set("prune", now + PRUNE_EVERY_MS);
      }
    }
    this.dispatch();
    await this.timers.arm();
  }

  /**
   * A task has waited a whole queue TTL. If no registered runner of the pool has all its labels,
   * nobody ever could take it: it fails with `no_runner`. Otherwise it keeps waiting another TTL.
   */
  private async queueTtl(taskId: string): Promise<void> {
    const row = this.queueRow(taskId);
    if (!row) return;
    const ttlMs = timings(this.env).queueTtlSeconds * 1000;
    const labels = JSON.parse(row.labels) as string[];
    if (row.assignment_id || this.someRunnerHas(labels)) {
      this.timers.set(`ttl:${taskId}`, Date.now() + ttlMs);
      return;
    }
    const message = labels.length
      ? `no runner of pool "${this.identity().pool}" has the labels ${labels.join(", ")}`
      : `no runner registered in pool "${this.identity().pool}"`;
    try {
      await taskStub(this.env, taskId).failUnrunnable(this.identity().project, row.attempt, { code: NO_RUNNER, message });
    } catch (err) {
      log("warn", "could not fail an unrunnable task", { taskId, error: String(err) });
      this.timers.set(`ttl:${taskId}`, Date.now() + TTL_RETRY_MS);
      return;
    }
    this.leave(taskId, FINAL);
    log("info", "task failed: no runner", { taskId, labels });
  }

  private someRunnerHas(labels: string[]): boolean {
    return this.sql
      .exec<{ labels: string }>("SELECT labels FROM sfp_runners WHERE gone IS NULL")
      .toArray()
      .some((r) => {
        const has = new Set(JSON.parse(r.labels) as string[]);
        return labels.every((l) => has.has(l));
      });
  }

  // ---- helpers ------------------------------------------------------------------------------------

  private runnerRow(runnerId: string): RunnerRow | undefined {
    return this.sql.exec<RunnerRow>("SELECT * FROM sfp_runners WHERE id = ?", runnerId).toArray()[0];
  }

  /** The runner, or 401: unknown, revoked and deregistered runners look alike to their caller. */
  private liveRunner(runnerId: string): RunnerRow {
    const runner = this.runnerRow(runnerId);
    if (!runner || runner.gone) throw rpcError("unauthenticated", "this runner is revoked, deregistered or unknown");
    return runner;
  }

  /**
   * Takes a runner out of service: its parked polls end, its offers go back to the queue, and its
   * leases are ended at their tasks (requeued, or failed after the last attempt). A task that cannot
   * be reached now still loses the lease when it lapses.
   */
  private async dropRunner(runnerId: string): Promise<void> {
    for (const p of this.parked.filter((p) => p.runnerId === runnerId)) this.unpark(p, []);
    for (const a of this.sql.exec<AssignmentRow>("SELECT * FROM sfp_assignments WHERE runner_id = ? AND state = 'offered'", runnerId).toArray()) {
      this.expireOffer(a);
    }
    this.dispatch();
    await this.timers.arm();
    const leases = this.sql.exec<{ task_id: string; epoch: number }>("SELECT task_id, epoch FROM sfp_leases WHERE runner_id = ?", runnerId).toArray();
    const project = this.identityOrNull()?.project;
    if (!project) return;
    for (const lease of leases) {
      try {
        await taskStub(this.env, lease.task_id).endLease(project, lease.epoch, "the runner was revoked or deregistered");
      } catch (err) {
        log("warn", "could not end a lease of a dropped runner", { runnerId, taskId: lease.task_id, error: String(err) });
      }
    }
  }

  private remember(project: string, pool: string): void {
    this.sql.exec("INSERT INTO sfp_meta (key, value) VALUES ('project', ?), ('pool', ?) ON CONFLICT(key) DO NOTHING", project, pool);
  }

  private identityOrNull(): { project: string; pool: string } | null {
    const rows = this.sql.exec<{ key: string; value: string }>("SELECT key, value FROM sfp_meta").toArray();
    const project = rows.find((r) => r.key === "project")?.value;
    const pool = rows.find((r) => r.key === "pool")?.value;
    return project && pool ? { project, pool } : null;
  }

  private identity(): { project: string; pool: string } {
    const id = this.identityOrNull();
    if (!id) throw rpcError("not_found", "no such pool");
    return id;
  }

  /**
   * Nudges the pool's origin (POOL_ORIGINS) with one signed `POST /v1/wake`, so that a runner
   * manager that scales to zero can start a runner. Best effort: the task waits in the queue anyway.
   */
  private wake(): void {
    const id = this.identityOrNull();
    const secret = this.env.ORIGIN_TOKEN;
    const origin = id ? originOf(this.env.POOL_ORIGINS, id.project, id.pool) : null;
    if (!id || !secret || !origin) return;
    const now = Date.now();
    if (now - this.lastWake < WAKE_MIN_INTERVAL_MS) return;
    this.lastWake = now;
    const queued = this.sql.exec<{ n: number }>("SELECT COUNT(*) AS n FROM sfp_queue WHERE assignment_id IS NULL").one().n;
    this.ctx.waitUntil(sendWake(origin, secret, { project: id.project, pool: id.pool, queued }, now));
  }
}

function log(level: "info" | "warn", msg: string, fields: Record<string, unknown>): void {
  console.log(JSON.stringify({ level, msg, actor: "dispatcher", ...fields }));
}
