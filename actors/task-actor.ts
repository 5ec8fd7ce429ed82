// One TaskActor per task: it owns the task's state and is the one place it changes (`commit`, with
// moves checked by task-state.ts). Around it: the runner's lease (task-lease.ts), the event and log
// store (task-events.ts), the durable outbox to other actors (outbox.ts, task-outbox.ts), what waits
// in memory for the task (task-waiters.ts), and the hibernating sockets of everyone watching (task-watchers.ts).
import { DurableObject } from "cloudflare:workers";
import type { AcceptAnswer, NewTask } from "../common/messages.ts";
import {
  type Artifact,
  FEED_PROGRESS_SECONDS,
  isTerminal,
  rpcError,
  type FinishBody,
  type JobHeartbeatAnswer,
  type JobSample,
  type RunnerEvent,
  type EventsPage,
  type Task,
  type TaskErrorInfo,
  type TaskEvent,
  type TaskStatus,
} from "../protocol/index.ts";
import { projectStub, type Env } from "./env.ts";
import type { OrgNotice } from "./org-actor.ts";
import { Outbox, OUTBOX_TABLE } from "./outbox.ts";
import { withSample } from "./task-resources.ts";
import { count } from "./metrics.ts";
import { FORWARD_AFTER_HEADER, FORWARD_BATCH_HEADER, FORWARD_PROJECT_HEADER, FORWARD_TOKEN_HEADER } from "./sockets.ts";
import { refuseUpgrade, requireUpgrade } from "./socket-manager.ts";
import { migrate, nowIso } from "./sql.ts";
import { ARTIFACTS_TABLE, artifactLimits, TaskArtifacts, type ArtifactRecorded, type ArtifactUpload, type StoredArtifact } from "./task-artifacts.ts";
import { LOG_PAGE_BYTES, progressOf, TaskEventStore, type EventDraft, type LogPage } from "./task-events.ts";
import { LEASE_TIMER, LEASES_TABLE, TaskLease, unbornRefusal, type TaskChange } from "./task-lease.ts";
import { taskSenders, type TaskMessage, type TaskMessageBodies } from "./task-outbox.ts";
import { APPROVAL_TIMER, gateChanged, ORG_GATE_TABLE, TaskOrgGate, type Decider } from "./task-org-gate.ts";
import { checkpointOf } from "./task-checkpoint.ts";
import { takeOver } from "./task-materialize.ts";
import { armRunAt, RUN_AT_TIMER, runAtDue } from "./task-run-at.ts";
import { bornQueueEntry, bornTask, canMove } from "./task-state.ts";
import { TaskWaiters } from "./task-waiters.ts";
import { CLOSE_SOCKETS_TIMER, TaskWatchers } from "./task-watchers.ts";
import { Timers, TIMERS_TABLE } from "./timers.ts";

const TASK_TABLE = "CREATE TABLE sfp_task (id TEXT PRIMARY KEY, body TEXT NOT NULL)";
const EVENTS_TABLE = "CREATE TABLE sfp_events (seq INTEGER PRIMARY KEY, body TEXT NOT NULL)";
// Log lines with the running byte offset of their end, so `Range: bytes=N-` needs no scan.
const LOG_TABLE = "CREATE TABLE sfp_log (n INTEGER PRIMARY KEY, text TEXT NOT NULL, end_byte INTEGER NOT NULL)";
// A log read finds its first line through it.
const LOG_INDEX = "CREATE INDEX sfp_log_end ON sfp_log (end_byte)";

export const MIGRATIONS = [
  [
    TASK_TABLE,
    EVENTS_TABLE,
    LOG_TABLE,
    // The outbox as it first was (outbox.ts OUTBOX_TABLE is its form today, after migration 3).
    "CREATE TABLE sfp_outbox (id INTEGER PRIMARY KEY AUTOINCREMENT, kind TEXT NOT NULL, body TEXT NOT NULL)",
    TIMERS_TABLE,
  ],
  [LEASES_TABLE],
  // The outbox backs off per failed send.
  ["ALTER TABLE sfp_outbox ADD COLUMN attempts INTEGER NOT NULL DEFAULT 0", LOG_INDEX],
  // Artifacts: what the job stored in R2 (task-artifacts.ts).
  [ARTIFACTS_TABLE],
  // issue 13: the task's side of its org's lock (task-org-gate.ts).
  [ORG_GATE_TABLE],
] as const;

/** What MIGRATIONS leave behind, for a task's actor at its birth (sql.ts `migrate`). */
export const FRESH_SCHEMA = [TASK_TABLE, EVENTS_TABLE, LOG_TABLE, OUTBOX_TABLE, TIMERS_TABLE, LEASES_TABLE, LOG_INDEX, ARTIFACTS_TABLE, ORG_GATE_TABLE];

/** How long an accept waits for a task whose creation is still on its way (edge/new-task.ts sends both at once). */
export const BIRTH_WAIT_MS = 4_000;

export class TaskActor extends DurableObject<Env> {
  private task: Task | null = null;
  private readonly timers: Timers;
  private readonly store: TaskEventStore;
  private readonly outbox: Outbox<TaskMessageBodies>;
  private readonly lease: TaskLease;
  private readonly gate: TaskOrgGate;
  private readonly watchers: TaskWatchers;
  private readonly artifactStore: TaskArtifacts;
  private readonly waiters = new TaskWaiters();
  /** When the project last heard of this task (memory only): progress goes to its feed at most every FEED_PROGRESS_SECONDS. */
  private feedSentAt = 0;

  constructor(ctx: DurableObjectState, env: Env) {
    super(ctx, env);
    this.timers = new Timers(ctx.storage);
    this.store = new TaskEventStore(ctx.storage.sql);
    this.outbox = new Outbox(ctx.storage, this.timers, taskSenders(env), { logFields: () => ({ actor: "task", taskId: this.task?.id }) });
    const changes = {
      moveTo: (task: Task, status: TaskStatus, change?: TaskChange) => this.moveTo(task, status, change),
      record: (task: Task, drafts: EventDraft[], outbox?: TaskMessage[]) => this.commit({ ...task }, drafts, outbox),
    };
    this.lease = new TaskLease(ctx.storage.sql, this.timers, this.outbox, env, changes);
    this.gate = new TaskOrgGate(ctx.storage.sql, this.timers, changes);
    this.watchers = new TaskWatchers(ctx, this.store, this.timers, () => this.task);
    this.artifactStore = new TaskArtifacts(ctx.storage.sql, () => artifactLimits(env));
    ctx.blockConcurrencyWhile(async () => {
      migrate(ctx.storage.sql, MIGRATIONS, FRESH_SCHEMA);
      const row = ctx.storage.sql.exec<{ body: string }>("SELECT body FROM sfp_task LIMIT 1").toArray()[0];
      this.task = row ? JSON.parse(row.body) : null;
      if (!this.task) await this.materialize();
      // Messages an earlier instance committed but was reset before sending go out now.
      this.outbox.resume();
    });
  }

  /** A webhook's task, taken over from its ingest shard on first touch (task-materialize.ts). */
  private async materialize(): Promise<void> {
    const taken = await takeOver(this.env, this.ctx.id.name, this.gate);
    if (taken) this.commit(taken.born, taken.drafts, taken.outbox, { indexed: true });
  }

  // ---- reads ----------------------------------------------------------------------------------

  /** The task as `project` may see it; another project's task is "not found", never "forbidden". */
  private visible(project: string): Task {
    if (!this.task || this.task.project !== project) throw rpcError("not_found", "no such task");
    return this.task;
  }

  /**
   * The task, optionally held until its version passes `afterVersion` or `waitSeconds` elapse
   * (long-poll). Answers the moment the version moves.
   */
  async get(project: string, opts: { afterVersion?: number; waitSeconds?: number } = {}): Promise<Task> {
    const task = this.visible(project);
    const { afterVersion, waitSeconds } = opts;
    if (afterVersion === undefined || !waitSeconds || task.version > afterVersion || isTerminal(task.status)) return task;
    await this.waiters.next(waitSeconds * 1000);
    return this.visible(project);
  }

  async events(project: string, after: number, limit: number): Promise<EventsPage> {
    const task = this.visible(project);
    const events = this.store.after(after, limit);
    const reached = events.length ? events[events.length - 1].seq : after;
    return { events, lastSeq: task.version, done: isTerminal(task.status) && reached >= task.version };
  }

  /** A page of the log from byte `from` on (at most LOG_PAGE_BYTES), for `GET /logs` with `Range: bytes=N-`. */
  async logs(project: string, from = 0): Promise<LogPage> {
    this.visible(project);
    return this.store.readLog(from, LOG_PAGE_BYTES);
  }

  // ---- client-driven changes ------------------------------------------------------------------

  /**
   * Creates the task, or answers the one already there: creation is idempotent by id, which is
   * what makes webhook re-deliveries and Idempotency-Key retries land on the same task. `at` is its
   * `createdAt` as the edge chose it, so the queue entry the edge sent early is the one born here.
   */
  async create(input: NewTask, at = nowIso()): Promise<{ task: Task; created: boolean }> {
    if (this.task) {
      if (this.task.project !== input.project) throw rpcError("conflict", "task id already in use");
      // A retry also waits for what the first try committed but may not have delivered.
      if (this.outbox.pending) await this.outbox.flush();
      return { task: this.task, created: false };
    }
    const born = bornTask(input, at);
    // Straight to the queue (bornQueueEntry, the edge's decision too), or to its org's lock; a
    // `scheduled` task (issue 15) goes to either when its runAt timer fires.
    const entry = bornQueueEntry(born);
    const first: TaskMessage[] = entry ? [{ kind: "enqueue", body: entry }] : born.status === "scheduled" ? [] : this.gate.born(born);
    const task = this.birth(born, first, { indexed: false });
    armRunAt(this.timers, task);
    // The answer waits for the project index and the queue (or the org's lock) to have the task, so a
    // client that lists right after creating sees it; should either be down, the outbox's timer retries.
    await this.outbox.flush();
    await this.timers.arm();
    return { task: this.task ?? task, created: true };
  }

  /**
   * A client's cancel: a queued task is canceled at once (and leaves the queue); a running one goes
   * to `canceling` until its runner confirms or its lease lapses; a finished one is a conflict.
   */
  async cancel(project: string): Promise<Task> {
    const task = this.visible(project);
    if (isTerminal(task.status)) throw rpcError("already_finished", `task already ${task.status}`);
    if (task.status === "canceling") return task;
    let next: Task;
    if (task.status === "queued") {
      next = this.moveTo(task, "canceled", { outbox: [{ kind: "dequeue", body: { project: task.project, pool: task.pool, taskId: task.id } }] });
    } else if (task.status === "awaiting_approval" || task.status === "scheduled") {
      this.timers.clear(RUN_AT_TIMER);
      next = this.moveTo(task, "canceled");
    } else {
      next = this.moveTo(task, "canceling", { outbox: this.lease.cancelNotices(task) });
    }
    // Like create, the answer waits until the project index, the queue and the org's lock know.
    await this.timers.arm();
    await this.outbox.flush();
    return next;
  }

  // ---- the org's lock and approvals (task-org-gate.ts) -----------------------------------------

  /** An approver lets a task to a protected org through: it asks for the org's lock. */
  async approve(project: string, by: Decider): Promise<Task> {
    this.gate.approve(this.visible(project), by);
    await this.timers.arm();
    await this.outbox.flush();
    return this.visible(project);
  }

  /** An approver refuses a task to a protected org: it is canceled. */
  async reject(project: string, by: Decider): Promise<Task> {
    const next = this.gate.reject(this.visible(project), by);
    await this.timers.arm();
    await this.outbox.flush();
    return next;
  }

  /** The org's actor: the lock is granted, where the task waits, or the org wants an approval. */
  async orgNotice(project: string, notice: OrgNotice): Promise<void> {
    if (!this.task || this.task.project !== project) return;
    this.gate.notice(this.task, notice);
    await this.timers.arm();
  }

  /** The dispatcher found no runner that could ever take this queued attempt (queue TTL). */
  async failUnrunnable(project: string, attempt: number, error: TaskErrorInfo): Promise<Task> {
    const task = this.visible(project);
    if (task.status !== "queued" || task.attempt !== attempt) return task;
    return this.moveTo(task, "failed", { patch: { error } });
  }

  // ---- the runner's lease (task-lease.ts) -------------------------------------------------------

  /** An offer can reach a runner before its task is born (the edge's early enqueue): the accept waits for the birth, bounded. */
  async accept(project: string, offer: { assignmentId: string; runnerId: string; grant: boolean }): Promise<AcceptAnswer> {
    if (!this.task && !(await this.waiters.until(() => this.task !== null, BIRTH_WAIT_MS))) return unbornRefusal();
    return this.lease.accept(this.visible(project), offer);
  }

  /** Renews the lease; a sample of the worker goes to the task's sockets and its peak onto the record. */
  async jobHeartbeat(project: string, epoch: number, sample?: JobSample): Promise<JobHeartbeatAnswer> {
    const answer = await this.lease.heartbeat(this.visible(project), epoch);
    const task = this.task;
    if (sample && task) {
      const next = withSample(task, sample);
      this.ctx.storage.sql.exec("UPDATE sfp_task SET body = ? WHERE id = ?", JSON.stringify(next.task), task.id);
      this.task = next.task;
      this.watchers.sockets.broadcast([next.message]);
    }
    return answer;
  }

  async jobEvents(project: string, epoch: number, events: RunnerEvent[]): Promise<{ ackedSeq: number }> {
    return this.lease.events(this.visible(project), epoch, events);
  }

  async jobFinish(project: string, epoch: number, body: FinishBody): Promise<Task> {
    return this.lease.finish(this.visible(project), epoch, body);
  }

  /** Ends the lease of `epoch` now, as if it lapsed (its runner was revoked or deregistered). */
  async endLease(project: string, epoch: number, reason: string): Promise<Task> {
    return this.lease.end(this.visible(project), epoch, reason);
  }

  // ---- artifacts (task-artifacts.ts): only the live lease stores them; the task's readers read them --

  /** Reserves room for an upload of the live lease `epoch` (409/410 otherwise, 413 past a limit). */
  async beginArtifact(project: string, epoch: number, name: string, size: number, contentType: string): Promise<ArtifactUpload> {
    const task = this.visible(project);
    this.lease.writable(task, epoch);
    return this.artifactStore.begin(task, name, size, contentType);
  }

  /** The upload's object is complete: recorded with its `artifact` event if the lease still holds. */
  async recordArtifact(project: string, epoch: number, upload: ArtifactUpload, sha256: string): Promise<ArtifactRecorded> {
    this.artifactStore.settle(upload.uploadId);
    const task = this.visible(project);
    this.lease.writable(task, epoch);
    const recorded = this.artifactStore.record(task, upload, sha256);
    this.commit({ ...task, artifacts: this.artifactStore.list() }, [{ type: "artifact", artifact: recorded.artifact }]);
    return recorded;
  }

  /** The upload failed before it was recorded: its reservation is released. */
  async abortArtifact(uploadId: string): Promise<void> {
    this.artifactStore.settle(uploadId);
  }

  async listArtifacts(project: string): Promise<Artifact[]> {
    this.visible(project);
    return this.artifactStore.list();
  }

  async readArtifact(project: string, name: string): Promise<StoredArtifact> {
    this.visible(project);
    const stored = this.artifactStore.find(name);
    if (!stored) throw rpcError("not_found", `the task has no artifact ${name}`);
    return stored;
  }

  // ---- the one place a task changes -----------------------------------------------------------

  /** A new task: its born record (task-state.ts `bornTask`), its first event, its first messages. */
  private birth(born: Task, outbox: TaskMessage[], opts: { indexed: boolean }): Task {
    return this.commit(born, [{ type: "status", status: born.status, attempt: born.attempt }], outbox, opts);
  }

  /** Moves `task` to `status` (checked against the state machine) with a status event, in one commit. */
  private moveTo(task: Task, status: TaskStatus, change: TaskChange = {}): Task {
    if (!canMove(task.status, status)) throw rpcError("conflict", `cannot move a ${task.status} task to ${status}`);
    const at = nowIso();
    const next: Task = { ...task, ...change.patch, status };
    if (status === "running" && !next.startedAt) next.startedAt = at;
    if (isTerminal(status)) next.finishedAt = at;
    // Only a queued task waits for its org's lock.
    if (status !== "queued") delete next.waitingFor;
    const statusEvent: EventDraft = { type: "status", status, attempt: next.attempt, ...(next.error && isTerminal(status) ? { error: next.error } : {}) };
    const outbox = [...(change.outbox ?? []), ...this.gate.onMove(task.status, status, next)];
    return this.commit(next, [...(change.events ?? []), statusEvent], outbox);
  }

  /**
   * Appends events (each bumps `version` by one, so versions never skip), stores the task, queues
   * outbox messages with their retry timer — all in one synchronous block, which the runtime commits
   * as one transaction — then wakes long-polls and sends the events to every socket. A birth (no
   * task yet) records its first event at the task's `createdAt`.
   */
  private commit(next: Task, drafts: EventDraft[], outbox: TaskMessage[] = [], birth?: { indexed: boolean }): Task {
    const prev = this.task;
    const at = prev ? nowIso() : next.createdAt;
    const events = this.store.append(prev?.version ?? 0, drafts, at);
    const task: Task = { ...next, version: (prev?.version ?? 0) + events.length, updatedAt: at };
    for (const draft of drafts) {
      if (draft.type === "progress") task.progress = progressOf(draft);
      if (draft.type === "result") task.result = draft.result;
      if (draft.type === "checkpoint") task.checkpoint = checkpointOf(draft, at);
    }
    this.ctx.storage.sql.exec(
      "INSERT INTO sfp_task (id, body) VALUES (?, ?) ON CONFLICT(id) DO UPDATE SET body = excluded.body",
      task.id,
      JSON.stringify(task),
    );
    // The project index hears of every status change (a task born in an ingest shard is in it already),
    // and of where a task stands with its org's lock and approval.
    const statusChanged = prev ? prev.status !== task.status || gateChanged(prev, task) : !birth?.indexed;
    const now = Date.now();
    const progressDue = drafts.some((d) => d.type === "progress") && now - this.feedSentAt >= FEED_PROGRESS_SECONDS * 1000;
    if (statusChanged || progressDue) this.feedSentAt = now;
    this.outbox.add(statusChanged || progressDue ? [...outbox, { kind: "project", body: { task } }] : outbox);
    this.task = task;
    this.announce(task, events);
    return task;
  }

  private announce(task: Task, events: TaskEvent[]): void {
    this.waiters.wake();
    this.watchers.announce(task, events);
  }

  // ---- alarm ------------------------------------------------------------------------------------

  override async alarm(): Promise<void> {
    for (const name of this.timers.takeDue(Date.now())) {
      if (name === this.outbox.timer) await this.outbox.flush();
      if (name === CLOSE_SOCKETS_TIMER) this.watchers.closeFinished();
      if (name === LEASE_TIMER && this.task && (await this.lease.lapsed(this.task))) this.ctx.waitUntil(count(this.env, "sfp_lease_lapses_total", {}));
      if (name === APPROVAL_TIMER && this.task) this.gate.expired(this.task);
      if (name === RUN_AT_TIMER && runAtDue(this.task)) {
        this.moveTo(this.task, "queued", { outbox: this.gate.born(this.task) });
        await this.outbox.flush();
      }
    }
    await this.timers.arm();
  }

  // ---- WebSockets (hibernating, task-watchers.ts) ------------------------------------------------

  /** The edge forwards an authenticated upgrade here; the project header is the caller's project. */
  override async fetch(request: Request): Promise<Response> {
    const refused = requireUpgrade(request);
    if (refused) return refused;
    const project = request.headers.get(FORWARD_PROJECT_HEADER) ?? "";
    const task = this.task;
    if (!task || task.project !== project) return refuseUpgrade(request, 404, "no such task");
    const afterHeader = request.headers.get(FORWARD_AFTER_HEADER);
    const after = afterHeader === null ? null : Math.max(0, Number(afterHeader) || 0);
    const tokenId = request.headers.get(FORWARD_TOKEN_HEADER) ?? "";
    const tokenLive = () => (tokenId ? projectStub(this.env, project).watchTask(tokenId, task.id) : Promise.resolve(true));
    const batch = request.headers.get(FORWARD_BATCH_HEADER) === "1";
    return this.watchers.connect(task, project, { after, batch }, tokenId, tokenLive);
  }

  /** The ProjectActor revoked the token: its sockets on this task close with 4401. */
  async closeToken(tokenId: string): Promise<void> {
    this.watchers.closeToken(tokenId);
  }

  override async webSocketMessage(ws: WebSocket, message: string | ArrayBuffer): Promise<void> {
    this.watchers.message(ws, message);
  }

  override async webSocketClose(ws: WebSocket, code: number): Promise<void> {
    this.ctx.waitUntil(count(this.env, "sfp_sockets_closed_total", { kind: "task" }));
    this.watchers.sockets.closed(ws, code);
  }
}
