// The runner side of a task (issue 4): a runner holds the task through a lease, one epoch per
// accept, renewed by job heartbeats, ended by its finish, by lapsing (the "lease" timer) or by its
// runner's revocation. Only the live epoch may write; every later write of an older epoch answers
// 409, and after the task finished 410 to the lease whose finish ended it.
import type { AcceptAnswer } from "../common/messages.ts";
import { queueEntry } from "../common/messages.ts";
import { timings } from "../common/timings.ts";
import { signToken } from "../common/tokens.ts";
import {
  isTerminal,
  LEASE_LOST,
  rpcError,
  type Accepted,
  type FinishBody,
  type JobHeartbeatAnswer,
  type RunnerEvent,
  type Task,
  type TaskStatus,
} from "../protocol/index.ts";
import type { Env } from "./env.ts";
import type { Outbox } from "./outbox.ts";
import { nowIso } from "./sql.ts";
import { checkpointDraft } from "./task-checkpoint.ts";
import { progressOf, type EventDraft } from "./task-events.ts";
import { leaseNotice, type TaskMessage, type TaskMessageBodies } from "./task-outbox.ts";
import { canMove } from "./task-state.ts";
import type { Timers } from "./timers.ts";

/**
 * The leases runners held, one row per epoch; `live` marks the current one. Ended rows stay so that a
 * retried accept, a repeated finish and a stale write each get their answer. The lease's expiry is
 * the "lease" timer itself, so renewing it is one timer write.
 */
export const LEASES_TABLE = `CREATE TABLE sfp_leases (epoch INTEGER PRIMARY KEY, assignment_id TEXT NOT NULL UNIQUE, runner_id TEXT NOT NULL,
       live INTEGER NOT NULL, acked_seq INTEGER NOT NULL DEFAULT 0, finish TEXT, finish_task TEXT)`;

export const LEASE_TIMER = "lease";

/** A change to the task, made by the TaskActor (the one place a task changes). */
export interface TaskChange {
  patch?: Partial<Task>;
  outbox?: TaskMessage[];
  /** Events recorded before the status event. */
  events?: EventDraft[];
}

/** What the lease needs of its actor: a checked move, and events recorded without one. */
export interface TaskChanges {
  moveTo(task: Task, status: TaskStatus, change?: TaskChange): Task;
  record(task: Task, drafts: EventDraft[], outbox?: TaskMessage[]): Task;
}

type LeaseRow = { epoch: number; assignment_id: string; runner_id: string; live: number; acked_seq: number; finish: string | null; finish_task: string | null };

export class TaskLease {
  private readonly sql: SqlStorage;
  private readonly timers: Timers;
  private readonly outbox: Outbox<TaskMessageBodies>;
  private readonly env: Env;
  private readonly changes: TaskChanges;

  constructor(sql: SqlStorage, timers: Timers, outbox: Outbox<TaskMessageBodies>, env: Env, changes: TaskChanges) {
    this.sql = sql;
    this.timers = timers;
    this.outbox = outbox;
    this.env = env;
    this.changes = changes;
  }

  /**
   * A runner accepts the dispatcher's offer. The first accept of a queued task (when the dispatcher
   * says the offer is open: `grant`) starts a lease and the task runs; the same assignment again
   * answers the same lease. Refusals come back as values so the dispatcher can tell whether the task
   * still wants a runner; the edge turns them into 409/410.
   */
  async accept(task: Task, offer: { assignmentId: string; runnerId: string; grant: boolean }): Promise<AcceptAnswer> {
    const held = this.row("assignment", offer.assignmentId);
    if (held?.live && held.runner_id === offer.runnerId) return { accepted: await this.accepted(task, held) };
    if (held || task.status !== "queued" || !offer.grant) return refusal(task, held ? "that lease has ended" : "the offer is no longer open");
    const epoch = (this.sql.exec<{ e: number | null }>("SELECT MAX(epoch) AS e FROM sfp_leases").one().e ?? 0) + 1;
    this.sql.exec("INSERT INTO sfp_leases (epoch, assignment_id, runner_id, live) VALUES (?, ?, ?, 1)", epoch, offer.assignmentId, offer.runnerId);
    this.timers.set(LEASE_TIMER, Date.now() + timings(this.env).leaseSeconds * 1000);
    const running = this.changes.moveTo(task, "running");
    await this.timers.arm();
    leaseLog("lease granted", task.id, { runnerId: offer.runnerId, epoch, attempt: task.attempt });
    const lease: LeaseRow = { epoch, assignment_id: offer.assignmentId, runner_id: offer.runnerId, live: 1, acked_seq: 0, finish: null, finish_task: null };
    return { accepted: await this.accepted(running, lease) };
  }

  /** A job heartbeat renews the lease and tells the runner whether a client asked to cancel. */
  async heartbeat(task: Task, epoch: number): Promise<JobHeartbeatAnswer> {
    this.writable(task, epoch);
    const expires = Date.now() + timings(this.env).leaseSeconds * 1000;
    this.timers.set(LEASE_TIMER, expires);
    await this.timers.arm();
    return { leaseExpiresAt: nowIso(expires), cancelRequested: task.status === "canceling" };
  }

  /**
   * The runner's progress and log events, numbered by the runner per lease. Stored in seq order:
   * seqs already stored are skipped, and at a gap only the contiguous prefix is kept; the answer's
   * `ackedSeq` tells the runner where to resend from. Each stored one becomes a task event.
   */
  events(task: Task, epoch: number, events: RunnerEvent[]): { ackedSeq: number } {
    const lease = this.writable(task, epoch);
    let acked = lease.acked_seq;
    const drafts: EventDraft[] = [];
    for (const event of [...events].sort((a, b) => a.seq - b.seq)) {
      if (event.seq <= acked) continue;
      if (event.seq !== acked + 1) break;
      acked = event.seq;
      if (event.type === "log") drafts.push({ type: "log", lines: event.lines });
      else if (event.type === "checkpoint") drafts.push(checkpointDraft(event, task.attempt));
      else drafts.push({ type: "progress", ...progressOf(event) });
    }
    if (drafts.length) {
      this.sql.exec("UPDATE sfp_leases SET acked_seq = ? WHERE epoch = ?", acked, epoch);
      this.changes.record(task, drafts);
    }
    return { ackedSeq: acked };
  }

  /**
   * The runner's outcome ends the lease and the task. The same finish again answers the same task; a
   * different one for a finished epoch is a conflict. `canceled` only answers a client's cancel.
   */
  async finish(task: Task, epoch: number, body: FinishBody): Promise<Task> {
    const key = JSON.stringify(body);
    const done = this.row("epoch", epoch);
    if (done?.finish) {
      if (done.finish === key && done.finish_task) return JSON.parse(done.finish_task);
      throw rpcError("conflict", "this lease already finished with a different outcome");
    }
    this.writable(task, epoch);
    if (body.outcome === "canceled" && task.status !== "canceling") {
      throw rpcError("conflict", "outcome canceled answers a cancel request; this task was not asked to cancel (report failed)");
    }
    // Checked before the lease row changes: a refused finish must leave the lease as it was.
    if (!canMove(task.status, body.outcome)) throw rpcError("conflict", `cannot finish a ${task.status} task as ${body.outcome}`);
    const patch: Partial<Task> = {};
    if (body.outcome === "failed") patch.error = body.error ?? { code: "failed", message: "the runner reported a failure" };
    const events: EventDraft[] = body.result === undefined ? [] : [{ type: "result", result: body.result }];
    this.sql.exec("UPDATE sfp_leases SET live = 0, finish = ? WHERE epoch = ?", key, epoch);
    this.timers.clear(LEASE_TIMER);
    const finished = this.changes.moveTo(task, body.outcome, { patch, outbox: [leaseNotice("release", task, epoch)], events });
    this.sql.exec("UPDATE sfp_leases SET finish_task = ? WHERE epoch = ?", JSON.stringify(finished), epoch);
    await this.timers.arm();
    // The answer waits until the dispatcher knows the lease ended (an ephemeral runner is then done).
    await this.outbox.flush();
    leaseLog("lease finished", task.id, { epoch, outcome: body.outcome });
    return finished;
  }

  /** Ends the lease of `epoch` now, as if it lapsed (its runner was revoked or deregistered). */
  async end(task: Task, epoch: number, reason: string): Promise<Task> {
    const lease = this.row("live");
    if (lease?.epoch !== epoch) return task;
    const after = this.lose(task, lease, reason);
    await this.timers.arm();
    await this.outbox.flush();
    return after;
  }

  /** The "lease" timer fired: no heartbeat renewed the lease in time. */
  /** Answers whether a live lease lapsed (for the edge's metrics). */
  async lapsed(task: Task): Promise<boolean> {
    const lease = this.row("live");
    if (!lease || isTerminal(task.status)) return false;
    this.lose(task, lease, "the lease lapsed");
    await this.outbox.flush();
    return true;
  }

  /** A cancel of a running task reaches its runner through the dispatcher's heartbeat answer too. */
  cancelNotices(task: Task): TaskMessage[] {
    const lease = this.row("live");
    return lease ? [leaseNotice("cancel", task, lease.epoch)] : [];
  }

  /**
   * A lease ended without a finish: a canceling task is canceled; otherwise the task goes back to
   * the queue with attempt+1, or fails as `lost` after its last attempt. Events stored so far stay.
   */
  private lose(task: Task, lease: LeaseRow, reason: string): Task {
    this.sql.exec("UPDATE sfp_leases SET live = 0 WHERE epoch = ?", lease.epoch);
    this.timers.clear(LEASE_TIMER);
    const release = leaseNotice("release", task, lease.epoch);
    let after: Task;
    if (task.status === "canceling") {
      after = this.changes.moveTo(task, "canceled", { outbox: [release] });
    } else if (task.attempt < task.maxAttempts) {
      const attempt = task.attempt + 1;
      after = this.changes.moveTo(task, "queued", { patch: { attempt }, outbox: [release, { kind: "enqueue", body: queueEntry({ ...task, attempt }) }] });
    } else {
      const error = { code: LEASE_LOST, message: `${reason} on the last of ${task.maxAttempts} attempts` };
      after = this.changes.moveTo(task, "failed", { patch: { error }, outbox: [release] });
    }
    leaseLog("lease lost", task.id, { runnerId: lease.runner_id, epoch: lease.epoch, reason, status: after.status });
    return after;
  }

  /**
   * The live lease of `epoch`, or the contract's refusal: 410 to the lease that finished the task,
   * 409 to every other epoch (a lapsed or revoked lease stays stale even once the task is over).
   */
  writable(task: Task, epoch: number): LeaseRow {
    const lease = this.row("live");
    if (lease && lease.epoch === epoch) return lease;
    if (this.row("epoch", epoch)?.finish) throw rpcError("gone", `the task is already ${task.status}`);
    throw rpcError("stale_lease", `lease epoch ${epoch} is no longer this task's lease`);
  }

  private row(where: "live" | "epoch" | "assignment", value?: number | string): LeaseRow | undefined {
    const clause = where === "live" ? "live = 1" : where === "epoch" ? "epoch = ?" : "assignment_id = ?";
    const args = value === undefined ? [] : [value];
    return this.sql.exec<LeaseRow>(`SELECT * FROM sfp_leases WHERE ${clause}`, ...args).toArray()[0];
  }

  private async accepted(task: Task, lease: LeaseRow): Promise<Accepted> {
    const jobToken = await signToken(this.env.TOKEN_SIGNING_KEY, { k: "job", t: task.id, p: task.project, ep: lease.epoch });
    return { jobToken, leaseEpoch: lease.epoch, leaseExpiresAt: nowIso(this.timers.get(LEASE_TIMER) ?? Date.now()), task };
  }
}

function refusal(task: Task, why: string): AcceptAnswer {
  const base = { wanted: task.status === "queued", attempt: task.attempt };
  if (task.status === "canceled") return { refused: { ...base, code: "gone", message: "the task was canceled" } };
  if (isTerminal(task.status)) return { refused: { ...base, code: "already_finished", message: `the task is already ${task.status}` } };
  if (task.status !== "queued") return { refused: { ...base, code: "conflict", message: "the task is held by another lease" } };
  return { refused: { ...base, code: "assignment_expired", message: why } };
}

/** An accept that waited for its task's birth in vain (edge/new-task.ts queues a new task early): no such task here. */
export function unbornRefusal(): AcceptAnswer {
  return { refused: { code: "assignment_expired", message: "no such task", wanted: false, attempt: 0, unborn: true } };
}

function leaseLog(msg: string, taskId: string, fields: Record<string, unknown>): void {
  console.log(JSON.stringify({ level: "info", msg, taskId, ...fields }));
}
