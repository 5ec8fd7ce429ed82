// One DispatcherActor per (project, pool): the queue of runnable tasks, the pool's runner registry,
// the long-polls its runners park here, and the assignments it hands them (docs/API.md "Runner
// protocol"). An assignment is only an offer: the TaskActor's accept decides who holds the lease, so
// a race between runners, a lost answer or an expired offer can never give one task two leases.
// The concepts live in their own modules (dispatch-queue, dispatch-offers, dispatch-parked,
// dispatch-pool, dispatch-reports, runner-registry, runner-leases); this file is the RPC surface and
// the rules that tie them together.
import { log as logLine } from "../common/log.ts";
import { DurableObject } from "cloudflare:workers";
import { timings } from "../common/timings.ts";
import { taskStub, type Env } from "./env.ts";
import { NO_RUNNER, rpcError, type Accepted, type Assignment, type RunnerAction, type RunnerHeartbeatBody, type RunnerInfo } from "../protocol/index.ts";
import { migrate, nowIso } from "./sql.ts";
import type { AcceptAnswer, QueueEntry } from "../common/messages.ts";
import { Timers } from "./timers.ts";
import { MIGRATIONS } from "./dispatch-schema.ts";
import { DispatchQueue, FINAL, unrunnable } from "./dispatch-queue.ts";
import { Offers, type AssignmentRow } from "./dispatch-offers.ts";
import { ParkedPolls } from "./dispatch-parked.ts";
import { PoolIdentity } from "./dispatch-pool.ts";
import { PoolReports } from "./dispatch-reports.ts";
import { labelsOf, RunnerRegistry, type Departure, type NewRunner } from "./runner-registry.ts";
import { RunnerLeases } from "./runner-leases.ts";

/** How long the queue remembers the attempts that left it (outbox retries end well before). */
const LEFT_TTL_MS = 7 * 86_400_000;
/** Answers to ended assignments are kept this long, so that a late retry still gets a clean 409. */
const ASSIGNMENT_TTL_MS = 86_400_000;
/** How often the memory of departed attempts and ended offers is pruned. */
const PRUNE_EVERY_MS = 86_400_000;
/** When failing an unrunnable task could not reach its actor, try again this much later. */
const TTL_RETRY_MS = 10_000;

export class DispatcherActor extends DurableObject<Env> {
  private readonly timers: Timers;
  private readonly queue: DispatchQueue;
  private readonly offers: Offers;
  private readonly runners: RunnerRegistry;
  private readonly leases: RunnerLeases;
  private readonly parked = new ParkedPolls();
  private readonly pool: PoolIdentity;
  private readonly reports: PoolReports;

  constructor(ctx: DurableObjectState, env: Env) {
    super(ctx, env);
    this.timers = new Timers(ctx.storage);
    this.queue = new DispatchQueue(ctx.storage, this.timers);
    this.offers = new Offers(ctx.storage, this.timers);
    this.runners = new RunnerRegistry(ctx.storage);
    this.leases = new RunnerLeases(ctx.storage);
    this.pool = new PoolIdentity(ctx.storage.sql);
    this.reports = new PoolReports(ctx, env, this.pool);
    ctx.blockConcurrencyWhile(async () => migrate(ctx.storage.sql, MIGRATIONS));
  }

  // ---- the queue ----------------------------------------------------------------------------------

  /**
   * Queues a task (idempotent: the TaskActor's outbox may deliver the same entry more than once),
   * hands it to a parked poll that can take it, or else wakes the pool's origin.
   */
  async enqueue(entry: QueueEntry): Promise<void> {
    await this.enqueueMany([entry]);
  }

  /**
   * The edge's early copy of a new task's entry, sent while the task is still being created
   * (edge/new-task.ts): offered at once, but marked early until the task's outbox repeats it.
   */
  async enqueueEarly(entry: QueueEntry): Promise<void> {
    await this.enqueueMany([entry], true);
  }

  /** Queues a batch (the ingest actors' group commit) with one dispatch and at most one wake. */
  async enqueueMany(entries: QueueEntry[], early = false): Promise<void> {
    if (entries.length) this.pool.remember(entries[0].project, entries[0].pool);
    const admitted = entries.filter((e) => this.admit(e, early));
    if (!admitted.length) return;
    this.dispatch();
    await this.timers.arm();
    if (admitted.some((e) => this.queue.waiting(e.taskId))) this.reports.wake(() => this.queue.countWaiting());
  }

  /** Writes one entry into the queue; false when it is a repeat or an attempt that already left. */
  private admit(entry: QueueEntry, early: boolean): boolean {
    if (this.queue.departed(entry)) return false;
    // A requeue follows a lease that ended; whatever this pool knew of it is over.
    this.leases.forget(entry.taskId);
    const now = Date.now();
    const known = (labels: string[]) => this.runners.everHad(labels);
    if (!this.queue.insert(entry, now, timings(this.env).queueTtlSeconds * 1000, known, early)) return false;
    this.reports.queue();
    if (this.timers.get("prune") === null) this.timers.set("prune", now + PRUNE_EVERY_MS);
    return true;
  }

  /** Takes a task out of the queue for good (a client canceled it); a pending offer is withdrawn. */
  async remove(taskId: string): Promise<boolean> {
    const row = this.queue.row(taskId);
    this.offers.withdrawAll(taskId);
    this.queue.leave(taskId, FINAL, Date.now());
    this.reports.queue();
    await this.timers.arm();
    return Boolean(row);
  }

  async queued(): Promise<string[]> {
    return this.queue.ids();
  }

  // ---- offers -------------------------------------------------------------------------------------

  /**
   * Offers the runner what it can take: the oldest task of the highest priority whose labels are all
   * among the runner's, up to its free slots less its pending offers. Draining and spent ephemeral
   * runners are offered nothing. Writes the offers and their accept deadlines; the caller arms.
   */
  private offer(runnerId: string, freeSlots: number): Assignment[] {
    const runner = this.runners.get(runnerId);
    if (!runner || runner.gone || runner.drain || runner.state === "draining") return [];
    const now = Date.now();
    const pending = this.offers.pending(runnerId, now);
    // An ephemeral runner runs one job in its life.
    const spent = () => runner.jobs > 0 || pending > 0 || this.leases.countOf(runnerId) > 0;
    const capacity = runner.ephemeral ? (spent() ? 0 : 1) : Math.min(freeSlots, runner.slots) - pending;
    if (capacity <= 0) return [];
    const acceptBy = now + timings(this.env).acceptSeconds * 1000;
    return this.queue.takeable(new Set(labelsOf(runner)), capacity).map((taskId) => {
      const assignmentId = this.offers.make(taskId, runnerId, acceptBy);
      this.queue.hold(taskId, assignmentId);
      log("info", "task offered", { taskId, runnerId, assignmentId });
      return { taskId, assignmentId, acceptBy: nowIso(acceptBy) };
    });
  }

  /** Answers every parked poll that has something to take now. */
  private dispatch(): void {
    for (const parked of this.parked.all()) {
      const offers = this.offer(parked.runnerId, parked.freeSlots);
      if (offers.length) this.parked.answer(parked, offers);
    }
  }

  /** An offer not accepted in time: the task goes back to the queue for the next poll. */
  private expireOffer(a: AssignmentRow): void {
    this.offers.move(a.id, "expired");
    this.queue.unhold(a.task_id, a.id);
    log("info", "offer expired", { taskId: a.task_id, runnerId: a.runner_id, assignmentId: a.id });
  }

  // ---- runner calls -------------------------------------------------------------------------------

  async registerRunner(project: string, pool: string, runner: NewRunner): Promise<void> {
    this.pool.remember(project, pool);
    this.runners.add(runner, Date.now());
    log("info", "runner registered", { runnerId: runner.id, project, pool, ephemeral: runner.ephemeral });
  }

  /**
   * A runner's long-poll: its offers at once if there are any, else it is parked until a matching
   * task arrives or `waitSeconds` pass (then an empty answer). Parked polls live in memory only: if
   * the actor is evicted the call fails and the edge asks again, while the offers already made are
   * stored and go back to the queue at their accept deadline if nobody accepts them.
   */
  async poll(runnerId: string, freeSlots: number, waitSeconds: number): Promise<Assignment[]> {
    this.runners.live(runnerId);
    this.runners.polled(runnerId, freeSlots, Date.now());
    const offers = this.offer(runnerId, freeSlots);
    await this.timers.arm();
    if (offers.length || waitSeconds <= 0) return offers;
    return this.parked.park(runnerId, freeSlots, waitSeconds);
  }

  /**
   * A runner accepts an offer. The task's actor decides; this checks the offer is the runner's and
   * still open. An expired offer is still answered if the task had already granted it (its answer
   * was lost), but never granted anew.
   */
  async accept(runnerId: string, taskId: string, assignmentId: string): Promise<Accepted> {
    this.runners.live(runnerId);
    const a = this.offers.get(assignmentId);
    if (!a || a.task_id !== taskId || a.runner_id !== runnerId) throw rpcError("assignment_expired", "no such assignment for this runner");
    if (a.state === "offered" && a.accept_by <= Date.now()) {
      this.expireOffer(a);
      this.dispatch();
      await this.timers.arm();
    }
    const open = this.offers.get(assignmentId)?.state;
    const { accepted, refused } = await this.askTask(taskId, { assignmentId, runnerId, grant: open === "offered" });
    if (!accepted) {
      if (!refused) throw rpcError("internal", "the task answered neither a lease nor a refusal");
      if (refused.unborn) {
        // No task behind the entry (its creation never came): an unconfirmed row goes without a
        // departure; a row the outbox confirmed meanwhile has a task now and is offered again.
        if (this.queue.row(taskId)?.early) this.queue.drop(taskId);
        if (this.offers.get(assignmentId)?.state === "offered") this.expireOffer(a);
        this.reports.queue();
      } else if (refused.wanted) {
        if (this.offers.get(assignmentId)?.state === "offered") this.expireOffer(a);
      } else {
        // The task no longer wants a runner (canceled, finished, or running under another lease).
        if (this.queue.row(taskId)) this.queue.leave(taskId, refused.attempt, Date.now());
        this.reports.queue();
        this.offers.move(assignmentId, "withdrawn");
      }
      this.dispatch();
      await this.timers.arm();
      throw rpcError(refused.code, refused.message);
    }
    const first = this.offers.move(assignmentId, "accepted");
    if (this.queue.row(taskId)) this.queue.leave(taskId, accepted.task.attempt, Date.now());
    this.reports.queue();
    this.leases.record(taskId, runnerId, accepted.leaseEpoch);
    if (first) this.runners.countJob(runnerId, Date.now());
    // The runner's parked poll left out the slot this offer held; that slot is now counted as busy by
    // the runner itself, so the poll may take what waits (org-lock: a second org's deploy sat 25 s).
    this.dispatch();
    await this.timers.arm();
    return accepted;
  }

  /** The task's accept, typed as it declares it (RPC typing turns a Task, which holds `unknown`, into `never`). */
  private askTask(taskId: string, offer: { assignmentId: string; runnerId: string; grant: boolean }): Promise<AcceptAnswer> {
    return taskStub(this.env, taskId).accept(this.pool.require().project, offer);
  }

  /** A runner's heartbeat: records its state and resources, answers what it should do. */
  async heartbeat(runnerId: string, body: RunnerHeartbeatBody): Promise<RunnerAction[]> {
    const runner = this.runners.live(runnerId);
    const now = Date.now();
    this.runners.reported(runnerId, body, now);
    this.reports.load(runner, body, now);
    const actions: RunnerAction[] = this.leases.cancelsOf(runnerId).map((taskId) => ({ type: "cancel", taskId }));
    if (runner.drain && body.state !== "draining") actions.push({ type: "drain" });
    return actions;
  }

  /** `DELETE /v1/runners/self`: repeated calls of a deregistered runner succeed; a revoked one's do not. */
  async deregister(runnerId: string): Promise<void> {
    if (this.runners.get(runnerId)?.gone === "deregistered") return;
    this.runners.live(runnerId);
    await this.dropRunner(runnerId, "deregistered");
  }

  // ---- owner calls --------------------------------------------------------------------------------

  /** Revokes a runner: its next call answers 401, its offers and leases go back to the queue. */
  async revoke(runnerId: string): Promise<void> {
    const runner = this.runners.get(runnerId);
    if (!runner) throw rpcError("not_found", "no such runner");
    if (runner.gone === "revoked") return;
    await this.dropRunner(runnerId, "revoked");
  }

  /** Asks a runner to drain: it is offered nothing more, and its next heartbeat answer says `drain`. */
  async requestDrain(runnerId: string): Promise<void> {
    const runner = this.runners.get(runnerId);
    if (!runner || runner.gone) throw rpcError("not_found", "no such runner");
    this.runners.markDrain(runnerId);
    this.parked.release(runnerId);
  }

  async listRunners(): Promise<RunnerInfo[]> {
    return this.runners.list(this.pool.get()?.pool ?? "", timings(this.env).leaseSeconds * 1000, Date.now());
  }

  // ---- from the task actors (their outbox) --------------------------------------------------------

  /** A lease ended (finished, lapsed or revoked). An ephemeral runner's one job is then done. */
  async released(taskId: string, epoch: number): Promise<void> {
    const runnerId = this.leases.release(taskId, epoch);
    const runner = runnerId ? this.runners.get(runnerId) : undefined;
    if (runner?.ephemeral && !runner.gone) {
      this.runners.markGone(runner.id, "deregistered");
      this.parked.release(runner.id);
      log("info", "ephemeral runner deregistered after its job", { runnerId: runner.id, taskId });
    }
  }

  /** A client canceled a running task: the runner's next heartbeat answer carries a cancel action. */
  async cancelRequested(taskId: string, epoch: number): Promise<void> {
    this.leases.requestCancel(taskId, epoch);
  }

  // ---- alarm: accept deadlines and queue TTLs -----------------------------------------------------

  override async alarm(): Promise<void> {
    for (const name of this.timers.takeDue(Date.now())) {
      if (name.startsWith("accept:")) {
        const a = this.offers.get(name.slice("accept:".length));
        if (a?.state === "offered") this.expireOffer(a);
      } else if (name.startsWith("ttl:")) {
        await this.queueTtl(name.slice("ttl:".length));
      } else if (name === "prune") {
        const now = Date.now();
        const remembered = this.queue.pruneDepartures(now - LEFT_TTL_MS);
        this.offers.prune(now - ASSIGNMENT_TTL_MS);
        if (remembered > 0) this.timers.set("prune", now + PRUNE_EVERY_MS);
      }
    }
    this.dispatch();
    await this.timers.arm();
  }

  /**
   * A task has waited a whole queue TTL. If no registered runner of the pool has all its labels,
   * nobody ever could take it: it fails with `no_runner`. Otherwise it keeps waiting another TTL.
   * A task the queue refused (too many label sets, see MAX_LABEL_SETS) gets here at once and fails.
   */
  private async queueTtl(taskId: string): Promise<void> {
    const row = this.queue.row(taskId);
    if (!row) return;
    // Still unconfirmed after a whole TTL: its task was never born (an orphan of the edge's early enqueue).
    if (row.early) return this.queue.drop(taskId);
    const labels = JSON.parse(row.labels) as string[];
    const refused = row.label_set === null;
    if (!refused && (row.assignment_id || this.runners.someoneHas(labels))) {
      this.timers.set(`ttl:${taskId}`, Date.now() + timings(this.env).queueTtlSeconds * 1000);
      return;
    }
    const message = unrunnable(this.pool.require().pool, labels, refused);
    try {
      await taskStub(this.env, taskId).failUnrunnable(this.pool.require().project, row.attempt, { code: NO_RUNNER, message });
    } catch (err) {
      log("warn", "could not fail an unrunnable task", { taskId, error: String(err) });
      this.timers.set(`ttl:${taskId}`, Date.now() + TTL_RETRY_MS);
      return;
    }
    this.queue.leave(taskId, FINAL, Date.now());
    this.reports.queue();
    log("info", "task failed: no runner", { taskId, labels, refused });
  }

  // ---- helpers ------------------------------------------------------------------------------------

  /**
   * Takes a runner out of service: its parked polls end, its offers go back to the queue, and its
   * leases are ended at their tasks (requeued, or failed after the last attempt). A task that cannot
   * be reached now still loses the lease when it lapses.
   */
  private async dropRunner(runnerId: string, why: Departure): Promise<void> {
    this.runners.markGone(runnerId, why);
    log("info", `runner ${why}`, { runnerId });
    this.parked.release(runnerId);
    for (const a of this.offers.openOf(runnerId)) this.expireOffer(a);
    this.dispatch();
    await this.timers.arm();
    const leases = this.leases.of(runnerId);
    const project = this.pool.get()?.project;
    if (!project) return;
    for (const lease of leases) {
      try {
        await taskStub(this.env, lease.task_id).endLease(project, lease.epoch, "the runner was revoked or deregistered");
      } catch (err) {
        log("warn", "could not end a lease of a dropped runner", { runnerId, taskId: lease.task_id, error: String(err) });
      }
    }
  }
}

function log(level: "info" | "warn", msg: string, fields: Record<string, unknown>): void {
  logLine(level, msg, { actor: "dispatcher", ...fields });
}
