// One TaskActor per task: it owns the task's state, its gapless event log, its log lines, the
// long-poll waiters and the hibernating WebSocket sessions of everyone watching it.
import { DurableObject } from "cloudflare:workers";
import { signToken } from "../common/tokens.ts";
import { timings } from "../common/timings.ts";
import type { AcceptAnswer, NewTask, QueueEntry } from "../common/messages.ts";
import { dispatcherStub, ingestStub, projectStub, type Env } from "./env.ts";
import {
  ingestShardOf,
  isTerminal,
  rpcError,
  LEASE_LOST,
  type Accepted,
  type FinishBody,
  type JobHeartbeatAnswer,
  type RunnerEvent,
  type EventsPage,
  type Progress,
  type ServerMessage,
  type Task,
  type TaskErrorInfo,
  type TaskEvent,
  type TaskStatus,
} from "../protocol/index.ts";
import { type ClientMessage, ClientMessage as ClientMessageSchema } from "../protocol/task.ts";
import { migrate, nowIso } from "./sql.ts";
import { accept, FORWARD_AFTER_HEADER, FORWARD_PROJECT_HEADER, isUpgrade, saveState, send, sendText, stateOf } from "./sockets.ts";
import { SingleFlight } from "./single-flight.ts";
import { canMove } from "./task-state.ts";
import { Timers, TIMERS_TABLE } from "./timers.ts";

const MIGRATIONS = [
  [
    "CREATE TABLE sfp_task (id TEXT PRIMARY KEY, body TEXT NOT NULL)",
    "CREATE TABLE sfp_events (seq INTEGER PRIMARY KEY, body TEXT NOT NULL)",
    // Log lines with the running byte offset of their end, so `Range: bytes=N-` needs no scan.
    "CREATE TABLE sfp_log (n INTEGER PRIMARY KEY, text TEXT NOT NULL, end_byte INTEGER NOT NULL)",
    // Messages to other actors, written in the same transaction as the change that causes them and
    // deleted once delivered, so a crash between commit and delivery loses nothing.
    "CREATE TABLE sfp_outbox (id INTEGER PRIMARY KEY AUTOINCREMENT, kind TEXT NOT NULL, body TEXT NOT NULL)",
    TIMERS_TABLE,
  ],
  // The leases runners held (issue 4), one row per epoch; `live` marks the current one. Ended rows stay
  // so that a retried accept, a repeated finish and a stale write each get their answer. The lease's
  // expiry is the "lease" timer itself, so renewing it is one timer write.
  [
    `CREATE TABLE sfp_leases (epoch INTEGER PRIMARY KEY, assignment_id TEXT NOT NULL UNIQUE, runner_id TEXT NOT NULL,
       live INTEGER NOT NULL, acked_seq INTEGER NOT NULL DEFAULT 0, finish TEXT, finish_task TEXT)`,
  ],
] as const;

type OutboxMessage =
  | { kind: "project"; body: { task: Task } }
  | { kind: "enqueue"; body: QueueEntry }
  | { kind: "dequeue"; body: { project: string; pool: string; taskId: string } }
  | { kind: "materialized"; body: { shard: number; taskId: string } }
  | { kind: "release"; body: LeaseNotice }
  | { kind: "cancel"; body: LeaseNotice };

/** Tells the task's dispatcher about one of its leases (ended, or asked to cancel). */
type LeaseNotice = { project: string; pool: string; taskId: string; epoch: number };

type EventDraft =
  | { type: "status"; status: TaskStatus; attempt: number; error?: TaskErrorInfo }
  | ({ type: "progress" } & Progress)
  | { type: "log"; lines: string[] }
  | { type: "result"; result: unknown };

const OUTBOX_RETRY_MS = 2_000;
const utf8 = new TextEncoder();
const MAX_EVENTS_PAGE = 1_000;
/** How long a socket on a finished task stays open for a `resume` before the actor closes it. */
const FINISHED_SOCKET_GRACE_MS = 30_000;

export class TaskActor extends DurableObject<Env> {
  private task: Task | null = null;
  private readonly timers: Timers;
  private readonly waiters = new Set<() => void>();
  private readonly outbox = new SingleFlight(() => this.deliver());

  constructor(ctx: DurableObjectState, env: Env) {
    super(ctx, env);
    this.timers = new Timers(ctx.storage);
    // `ping` is answered by the runtime itself, so a keep-alive never wakes a hibernated actor.
    ctx.setWebSocketAutoResponse(new WebSocketRequestResponsePair("ping", "pong"));
    ctx.blockConcurrencyWhile(async () => {
      migrate(ctx.storage.sql, MIGRATIONS);
      const row = ctx.storage.sql.exec<{ body: string }>("SELECT body FROM sfp_task LIMIT 1").toArray()[0];
      this.task = row ? (JSON.parse(row.body) as Task) : null;
      if (!this.task) await this.materialize();
    });
  }

  /**
   * A task a webhook made is born in an ingest shard (actors/ingest-actor.ts), which durably holds,
   * queues and indexes it; the first time anyone touches this actor, it takes the record over, so a
   * delivery costs no task-actor commit until somebody reads or runs the task.
   */
  private async materialize(): Promise<void> {
    const id = this.ctx.id.name;
    const shard = id === undefined ? null : ingestShardOf(id);
    if (id === undefined || shard === null) return;
    const record = await ingestStub(this.env, shard).peek(id);
    if (!record) return;
    const born = JSON.parse(record) as Task;
    const task: Task = { ...born, version: 0 };
    this.commit(task, [{ type: "status", status: "queued", attempt: 1 }], [{ kind: "materialized", body: { shard, taskId: id } }], {
      at: born.createdAt,
      indexed: true,
    });
  }

  /** The task, for methods that only run once it exists (every RPC checks `visible` first). */
  private get current(): Task {
    if (!this.task) throw rpcError("not_found", "no such task");
    return this.task;
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
    await new Promise<void>((resolve) => {
      const done = () => {
        clearTimeout(timer);
        this.waiters.delete(done);
        resolve();
      };
      const timer = setTimeout(done, waitSeconds * 1000);
      this.waiters.add(done);
    });
    return this.visible(project);
  }

  async events(project: string, after: number, limit: number): Promise<EventsPage> {
    const task = this.visible(project);
    const n = Math.max(1, Math.min(limit, MAX_EVENTS_PAGE));
    const events = this.eventsAfter(after, n);
    const lastSeq = task.version;
    const reached = events.length ? events[events.length - 1].seq : after;
    return { events, lastSeq, done: isTerminal(task.status) && reached >= lastSeq };
  }

  /** Log text from byte `from` on, and the total size, for `GET /logs` with `Range: bytes=N-`. */
  async logs(project: string, from = 0): Promise<{ text: string; total: number; start: number }> {
    this.visible(project);
    const sql = this.ctx.storage.sql;
    const total = sql.exec<{ t: number | null }>("SELECT MAX(end_byte) AS t FROM sfp_log").one().t ?? 0;
    if (from >= total) return { text: "", total, start: from };
    // Lines ending after `from`; the first may start before it and is cut at the byte offset.
    const rows = sql.exec<{ text: string; end_byte: number }>("SELECT text, end_byte FROM sfp_log WHERE end_byte > ? ORDER BY n", from).toArray();
    const bytes = utf8.encode(rows.map((r) => `${r.text}\n`).join(""));
    const firstStart = rows[0].end_byte - utf8.encode(`${rows[0].text}\n`).length;
    return { text: new TextDecoder().decode(bytes.subarray(from - firstStart)), total, start: from };
  }

  private eventsAfter(after: number, limit: number): TaskEvent[] {
    return this.ctx.storage.sql
      .exec<{ body: string }>("SELECT body FROM sfp_events WHERE seq > ? ORDER BY seq LIMIT ?", after, limit)
      .toArray()
      .map((r) => JSON.parse(r.body) as TaskEvent);
  }

  // ---- client-driven changes ------------------------------------------------------------------

  /**
   * Creates the task, or answers the one already there: creation is idempotent by id, which is
   * what makes webhook re-deliveries and Idempotency-Key retries land on the same task.
   */
  async create(input: NewTask): Promise<{ task: Task; created: boolean }> {
    if (this.task) {
      if (this.task.project !== input.project) throw rpcError("conflict", "task id already in use");
      return { task: this.task, created: false };
    }
    const at = nowIso();
    const task: Task = { ...input, status: "queued", attempt: 1, version: 0, createdAt: at, updatedAt: at };
    this.commit(task, [{ type: "status", status: "queued", attempt: 1 }], [{ kind: "enqueue", body: queueEntry(task) }]);
    // The answer waits for the project index and the queue to have the task, so a client that lists
    // right after creating sees it; should either be down, the outbox and its alarm retry.
    await this.flushOutbox();
    return { task: this.current, created: true };
  }

  /**
   * A client's cancel: a queued task is canceled at once (and leaves the queue); a running one goes
   * to `canceling` until its runner confirms or its lease lapses; a finished one is a conflict.
   */
  async cancel(project: string): Promise<Task> {
    const task = this.visible(project);
    if (isTerminal(task.status)) throw rpcError("already_finished", `task already ${task.status}`);
    if (task.status === "canceling") return task;
    if (task.status === "queued") {
      this.moveTo("canceled", {}, [{ kind: "dequeue", body: { project: task.project, pool: task.pool, taskId: task.id } }]);
    } else {
      this.moveTo("canceling", {}, this.cancelNotice());
    }
    // Like create, the answer waits until the project index and the queue know.
    await this.flushOutbox();
    return this.current;
  }

  // ---- the one place a task changes -----------------------------------------------------------

  /**
   * Moves the task to `status` (checked against the state machine), with a status event, optional
   * field changes and outbox messages, in one commit.
   */
  private moveTo(status: TaskStatus, patch: Partial<Task> = {}, outbox: OutboxMessage[] = [], extra: EventDraft[] = []): Task {
    const task = this.current;
    if (!canMove(task.status, status)) throw rpcError("conflict", `cannot move a ${task.status} task to ${status}`);
    const at = nowIso();
    const next: Task = { ...task, ...patch, status };
    if (status === "running" && !next.startedAt) next.startedAt = at;
    if (isTerminal(status)) next.finishedAt = at;
    this.commit(
      next,
      [...extra, { type: "status", status, attempt: next.attempt, ...(next.error && isTerminal(status) ? { error: next.error } : {}) }],
      outbox,
    );
    return this.current;
  }

  /**
   * Appends events (each bumps `version` by one, so versions never skip), stores the task, queues
   * outbox messages — all in one synchronous block, which the runtime commits as one transaction —
   * then wakes long-polls and sends the events to every socket.
   */
  private commit(next: Task, drafts: EventDraft[], outbox: OutboxMessage[] = [], birth?: { at: string; indexed: true }): TaskEvent[] {
    const sql = this.ctx.storage.sql;
    const at = birth?.at ?? nowIso();
    const events: TaskEvent[] = [];
    let version = this.task?.version ?? 0;
    let logEnd = drafts.some((d) => d.type === "log") ? (sql.exec<{ t: number | null }>("SELECT MAX(end_byte) AS t FROM sfp_log").one().t ?? 0) : 0;
    for (const draft of drafts) {
      version += 1;
      const event = { ...draft, seq: version, at } as TaskEvent;
      events.push(event);
      sql.exec("INSERT INTO sfp_events (seq, body) VALUES (?, ?)", event.seq, JSON.stringify(event));
      if (draft.type === "log") {
        for (const line of draft.lines) {
          logEnd += utf8.encode(`${line}\n`).length;
          sql.exec("INSERT INTO sfp_log (text, end_byte) VALUES (?, ?)", line, logEnd);
        }
      }
      if (draft.type === "progress") next.progress = progressOf(draft);
      if (draft.type === "result") next.result = draft.result;
    }
    // A task born in an ingest shard is already in its project's index.
    const statusChanged = (!this.task && !birth?.indexed) || (this.task !== null && this.task.status !== next.status);
    next.version = version;
    next.updatedAt = at;
    sql.exec("INSERT INTO sfp_task (id, body) VALUES (?, ?) ON CONFLICT(id) DO UPDATE SET body = excluded.body", next.id, JSON.stringify(next));
    const messages = statusChanged ? [...outbox, { kind: "project", body: { task: next } } as OutboxMessage] : outbox;
    for (const m of messages) sql.exec("INSERT INTO sfp_outbox (kind, body) VALUES (?, ?)", m.kind, JSON.stringify(m.body));
    this.task = next;
    this.announce(events);
    if (messages.length) void this.flushOutbox();
    return events;
  }

  /**
   * Wakes long-polls and sends the new events to every socket. Every open socket has been sent every
   * event since it was accepted, so nothing per socket is read or written here: each message is
   * serialized once and the same text goes to all of them.
   */
  private announce(events: TaskEvent[]): void {
    for (const wake of [...this.waiters]) wake();
    const task = this.current;
    const sockets = this.ctx.getWebSockets();
    if (!sockets.length) return;
    const texts = events.map((event) => JSON.stringify({ type: "event", taskId: task.id, seq: event.seq, event } satisfies ServerMessage));
    const terminal = isTerminal(task.status);
    for (const ws of sockets) {
      for (const text of texts) sendText(ws, text);
      if (terminal) ws.close(1000, `task ${task.status}`);
    }
  }

  // ---- the lease (runner protocol, issue 4) ----------------------------------------------------
  // A runner holds a task through a lease: one epoch per accept, renewed by job heartbeats, ended by
  // finish, by lapsing (the "lease" timer), or by its runner's revocation. Only the live epoch may
  // write; every later write of an older epoch answers 409, and after the task finished 410.

  private leaseRow(where: "live" | "epoch" | "assignment", value?: number | string): LeaseRow | undefined {
    const clause = where === "live" ? "live = 1" : where === "epoch" ? "epoch = ?" : "assignment_id = ?";
    const args = value === undefined ? [] : [value];
    return this.ctx.storage.sql.exec<LeaseRow>(`SELECT * FROM sfp_leases WHERE ${clause}`, ...args).toArray()[0];
  }

  /**
   * A runner accepts the dispatcher's offer. The first accept of a queued task (when the dispatcher
   * says the offer is open: `grant`) starts a lease and the task runs; the same assignment again
   * answers the same lease. Refusals come back as values so the dispatcher can tell whether the task
   * still wants a runner; the edge turns them into 409/410.
   */
  async accept(project: string, offer: { assignmentId: string; runnerId: string; grant: boolean }): Promise<AcceptAnswer> {
    const task = this.visible(project);
    const held = this.leaseRow("assignment", offer.assignmentId);
    if (held?.live && held.runner_id === offer.runnerId) return { accepted: await this.acceptedAnswer(held) };
    if (held || task.status !== "queued" || !offer.grant) return refusal(task, held ? "that lease has ended" : "the offer is no longer open");
    const epoch = (this.ctx.storage.sql.exec<{ e: number | null }>("SELECT MAX(epoch) AS e FROM sfp_leases").one().e ?? 0) + 1;
    this.ctx.storage.sql.exec("INSERT INTO sfp_leases (epoch, assignment_id, runner_id, live) VALUES (?, ?, ?, 1)", epoch, offer.assignmentId, offer.runnerId);
    this.timers.set("lease", Date.now() + timings(this.env).leaseSeconds * 1000);
    this.moveTo("running");
    await this.timers.arm();
    void this.flushOutbox();
    leaseLog("lease granted", task.id, { runnerId: offer.runnerId, epoch, attempt: task.attempt });
    return {
      accepted: await this.acceptedAnswer({
        epoch,
        assignment_id: offer.assignmentId,
        runner_id: offer.runnerId,
        live: 1,
        acked_seq: 0,
        finish: null,
        finish_task: null,
      }),
    };
  }

  private async acceptedAnswer(lease: LeaseRow): Promise<Accepted> {
    const task = this.current;
    const jobToken = await signToken(this.env.TOKEN_SIGNING_KEY, { k: "job", t: task.id, p: task.project, ep: lease.epoch });
    return { jobToken, leaseEpoch: lease.epoch, leaseExpiresAt: nowIso(this.timers.get("lease") ?? Date.now()), task };
  }

  /**
   * The live lease of `epoch`, or the contract's refusal: 410 to the lease that finished the task,
   * 409 to every other epoch (a lapsed or revoked lease stays stale even once the task is over).
   */
  private writableLease(epoch: number): LeaseRow {
    const lease = this.leaseRow("live");
    if (lease && lease.epoch === epoch) return lease;
    if (this.leaseRow("epoch", epoch)?.finish) throw rpcError("gone", `the task is already ${this.task?.status}`);
    throw rpcError("stale_lease", `lease epoch ${epoch} is no longer this task's lease`);
  }

  /** A job heartbeat renews the lease and tells the runner whether a client asked to cancel. */
  async jobHeartbeat(project: string, epoch: number): Promise<JobHeartbeatAnswer> {
    const task = this.visible(project);
    this.writableLease(epoch);
    const expires = Date.now() + timings(this.env).leaseSeconds * 1000;
    this.timers.set("lease", expires);
    await this.timers.arm();
    return { leaseExpiresAt: nowIso(expires), cancelRequested: task.status === "canceling" };
  }

  /**
   * The runner's progress and log events, numbered by the runner per lease. Stored in seq order:
   * seqs already stored are skipped, and at a gap only the contiguous prefix is kept; the answer's
   * `ackedSeq` tells the runner where to resend from. Each stored one becomes a task event.
   */
  async jobEvents(project: string, epoch: number, events: RunnerEvent[]): Promise<{ ackedSeq: number }> {
    this.visible(project);
    const lease = this.writableLease(epoch);
    let acked = lease.acked_seq;
    const drafts: EventDraft[] = [];
    for (const event of [...events].sort((a, b) => a.seq - b.seq)) {
      if (event.seq <= acked) continue;
      if (event.seq !== acked + 1) break;
      acked = event.seq;
      if (event.type === "log") drafts.push({ type: "log", lines: event.lines });
      else drafts.push({ type: "progress", ...progressOf(event) });
    }
    if (drafts.length) {
      this.ctx.storage.sql.exec("UPDATE sfp_leases SET acked_seq = ? WHERE epoch = ?", acked, epoch);
      this.commit({ ...this.current }, drafts);
    }
    return { ackedSeq: acked };
  }

  /**
   * The runner's outcome ends the lease and the task. The same finish again answers the same task; a
   * different one for a finished epoch is a conflict. `canceled` only answers a client's cancel.
   */
  async jobFinish(project: string, epoch: number, body: FinishBody): Promise<Task> {
    const task = this.visible(project);
    const key = JSON.stringify(body);
    const done = this.leaseRow("epoch", epoch);
    if (done?.finish) {
      if (done.finish === key) return JSON.parse(done.finish_task ?? "null") as Task;
      throw rpcError("conflict", "this lease already finished with a different outcome");
    }
    this.writableLease(epoch);
    if (body.outcome === "canceled" && task.status !== "canceling") {
      throw rpcError("conflict", "outcome canceled answers a cancel request; this task was not asked to cancel (report failed)");
    }
    if (!canMove(task.status, body.outcome)) throw rpcError("conflict", `cannot finish a ${task.status} task as ${body.outcome}`);
    const patch: Partial<Task> = {};
    if (body.outcome === "failed") patch.error = body.error ?? { code: "failed", message: "the runner reported a failure" };
    const extra: EventDraft[] = body.result === undefined ? [] : [{ type: "result", result: body.result }];
    this.ctx.storage.sql.exec("UPDATE sfp_leases SET live = 0, finish = ? WHERE epoch = ?", key, epoch);
    this.timers.clear("lease");
    const finished = this.moveTo(body.outcome, patch, [this.leaseNotice("release", epoch)], extra);
    this.ctx.storage.sql.exec("UPDATE sfp_leases SET finish_task = ? WHERE epoch = ?", JSON.stringify(finished), epoch);
    await this.timers.arm();
    // The answer waits until the dispatcher knows the lease ended (an ephemeral runner is then done).
    await this.flushOutbox();
    leaseLog("lease finished", task.id, { epoch, outcome: body.outcome });
    return finished;
  }

  /** Ends the lease of `epoch` now, as if it lapsed (its runner was revoked or deregistered). */
  async endLease(project: string, epoch: number, reason: string): Promise<Task> {
    this.visible(project);
    const lease = this.leaseRow("live");
    if (lease?.epoch === epoch) {
      this.loseLease(lease, reason);
      await this.timers.arm();
      await this.flushOutbox();
    }
    return this.current;
  }

  /** The "lease" timer fired: no heartbeat renewed the lease in time. */
  private async leaseLapsed(): Promise<void> {
    const lease = this.leaseRow("live");
    if (!lease || !this.task || isTerminal(this.task.status)) return;
    this.loseLease(lease, "the lease lapsed");
    await this.flushOutbox();
  }

  /**
   * A lease ended without a finish: a canceling task is canceled; otherwise the task goes back to
   * the queue with attempt+1, or fails as `lost` after its last attempt. Events stored so far stay.
   */
  private loseLease(lease: LeaseRow, reason: string): void {
    const task = this.current;
    this.ctx.storage.sql.exec("UPDATE sfp_leases SET live = 0 WHERE epoch = ?", lease.epoch);
    this.timers.clear("lease");
    const release = this.leaseNotice("release", lease.epoch);
    if (task.status === "canceling") {
      this.moveTo("canceled", {}, [release]);
    } else if (task.attempt < task.maxAttempts) {
      const attempt = task.attempt + 1;
      this.moveTo("queued", { attempt }, [release, { kind: "enqueue", body: queueEntry({ ...task, attempt }) }]);
    } else {
      const error = { code: LEASE_LOST, message: `${reason} on the last of ${task.maxAttempts} attempts` };
      this.moveTo("failed", { error }, [release]);
    }
    leaseLog("lease lost", task.id, { runnerId: lease.runner_id, epoch: lease.epoch, reason, status: this.task?.status });
  }

  /** The dispatcher found no runner that could ever take this queued attempt (queue TTL). */
  async failUnrunnable(project: string, attempt: number, error: TaskErrorInfo): Promise<Task> {
    const task = this.visible(project);
    if (task.status !== "queued" || task.attempt !== attempt) return task;
    this.moveTo("failed", { error });
    void this.flushOutbox();
    return this.current;
  }

  private leaseNotice(kind: "release" | "cancel", epoch: number): OutboxMessage {
    const task = this.current;
    return { kind, body: { project: task.project, pool: task.pool, taskId: task.id, epoch } };
  }

  /** A cancel of a running task reaches its runner through the dispatcher's heartbeat answer too. */
  private cancelNotice(): OutboxMessage[] {
    const lease = this.leaseRow("live");
    return lease ? [this.leaseNotice("cancel", lease.epoch)] : [];
  }

  // ---- outbox -----------------------------------------------------------------------------------

  /** Delivers queued messages in order; on a failure the rest wait for the retry alarm. */
  private flushOutbox(): Promise<void> {
    return this.outbox.run();
  }

  private async deliver(): Promise<void> {
    const sql = this.ctx.storage.sql;
    for (;;) {
      const row = sql.exec<{ id: number; kind: OutboxMessage["kind"]; body: string }>("SELECT id, kind, body FROM sfp_outbox ORDER BY id LIMIT 1").toArray()[0];
      if (!row) return;
      try {
        await this.send({ kind: row.kind, body: JSON.parse(row.body) } as OutboxMessage);
      } catch (err) {
        console.log(JSON.stringify({ level: "warn", msg: "outbox delivery failed", taskId: this.task?.id, kind: row.kind, error: String(err) }));
        this.timers.set("outbox", Date.now() + OUTBOX_RETRY_MS);
        await this.timers.arm();
        return;
      }
      sql.exec("DELETE FROM sfp_outbox WHERE id = ?", row.id);
    }
  }

  private async send(message: OutboxMessage): Promise<void> {
    switch (message.kind) {
      case "project":
        await projectStub(this.env, message.body.task.project).taskChanged(message.body.task);
        return;
      case "enqueue":
        await dispatcherStub(this.env, message.body.project, message.body.pool).enqueue(message.body);
        return;
      case "dequeue":
        await dispatcherStub(this.env, message.body.project, message.body.pool).remove(message.body.taskId);
        return;
      case "materialized":
        await ingestStub(this.env, message.body.shard).materialized(message.body.taskId);
        return;
      case "release":
        await dispatcherStub(this.env, message.body.project, message.body.pool).released(message.body.taskId, message.body.epoch);
        return;
      case "cancel":
        await dispatcherStub(this.env, message.body.project, message.body.pool).cancelRequested(message.body.taskId, message.body.epoch);
        return;
    }
  }

  // ---- alarm ------------------------------------------------------------------------------------

  override async alarm(): Promise<void> {
    const due = this.timers.takeDue(Date.now());
    for (const name of due) {
      if (name === "outbox") await this.flushOutbox();
      if (name === "close-sockets") this.closeFinishedSockets();
      if (name === "lease") await this.leaseLapsed();
    }
    await this.timers.arm();
  }

  private closeFinishedSockets(): void {
    if (!this.task || !isTerminal(this.task.status)) return;
    for (const ws of this.ctx.getWebSockets()) ws.close(1000, `task ${this.task.status}`);
  }

  // ---- WebSockets (hibernating) -----------------------------------------------------------------

  /** The edge forwards an authenticated upgrade here; the project header is the caller's project. */
  override async fetch(request: Request): Promise<Response> {
    if (!isUpgrade(request)) return new Response("expected a WebSocket upgrade", { status: 426 });
    const project = request.headers.get(FORWARD_PROJECT_HEADER) ?? "";
    const task = this.task;
    if (!task || task.project !== project) {
      return Response.json({ error: { code: "not_found", message: "no such task", requestId: "" } }, { status: 404 });
    }
    const afterHeader = request.headers.get(FORWARD_AFTER_HEADER);
    const after = afterHeader === null ? null : Math.max(0, Number(afterHeader) || 0);
    const res = accept(this.ctx, { project, floorSeq: task.version }, ["task"]);
    send(res.socket, { type: "hello", taskId: task.id, version: task.version, lastSeq: task.version });
    send(res.socket, { type: "task", task });
    if (after !== null) this.resume(res.socket, after);
    else if (isTerminal(task.status)) await this.closeLater();
    return res;
  }

  override async webSocketMessage(ws: WebSocket, message: string | ArrayBuffer): Promise<void> {
    let parsed: ClientMessage;
    try {
      parsed = ClientMessageSchema.parse(JSON.parse(typeof message === "string" ? message : new TextDecoder().decode(message)));
    } catch {
      send(ws, { type: "error", error: { code: "invalid_request", message: 'expected {"type":"resume","after":<seq>} or the text "ping"' } });
      return;
    }
    if (parsed.type === "resume") this.resume(ws, parsed.after);
  }

  /**
   * Replays the events after `after` that this socket has not been sent, then it stays live: events
   * above `floorSeq` already went out live, so nothing is sent twice and nothing is skipped.
   */
  private resume(ws: WebSocket, after: number): void {
    const state = stateOf(ws);
    const task = this.task;
    if (!state || !task) return;
    let seq = after;
    while (seq < state.floorSeq) {
      const page = this.eventsAfter(seq, MAX_EVENTS_PAGE).filter((e) => e.seq <= state.floorSeq);
      if (!page.length) break;
      for (const event of page) send(ws, { type: "event", taskId: task.id, seq: event.seq, event });
      seq = page[page.length - 1].seq;
    }
    state.floorSeq = Math.min(state.floorSeq, after);
    saveState(ws, state);
    if (isTerminal(task.status)) ws.close(1000, `task ${task.status}`);
  }

  private async closeLater(): Promise<void> {
    this.timers.set("close-sockets", Date.now() + FINISHED_SOCKET_GRACE_MS);
    await this.timers.arm();
  }

  override async webSocketClose(ws: WebSocket, code: number): Promise<void> {
    // Completes the closing handshake; the runtime forgets the socket after this.
    try {
      ws.close(code === 1005 ? 1000 : code, "closing");
    } catch {
      // already closed
    }
  }
}

function progressOf(p: Progress): Progress {
  const out: Progress = {};
  if (p.percent !== undefined) out.percent = p.percent;
  if (p.step !== undefined) out.step = p.step;
  if (p.message !== undefined) out.message = p.message;
  return out;
}

export function queueEntry(task: Task): QueueEntry {
  return {
    taskId: task.id,
    project: task.project,
    pool: task.pool,
    priority: task.priority,
    labels: task.labels,
    createdAt: task.createdAt,
    attempt: task.attempt,
  };
}

// ---- lease helpers (issue 4) --------------------------------------------------------------------

type LeaseRow = { epoch: number; assignment_id: string; runner_id: string; live: number; acked_seq: number; finish: string | null; finish_task: string | null };

function refusal(task: Task, why: string): AcceptAnswer {
  const base = { wanted: task.status === "queued", attempt: task.attempt };
  if (task.status === "canceled") return { refused: { ...base, code: "gone", message: "the task was canceled" } };
  if (isTerminal(task.status)) return { refused: { ...base, code: "already_finished", message: `the task is already ${task.status}` } };
  if (task.status !== "queued") return { refused: { ...base, code: "conflict", message: "the task is held by another lease" } };
  return { refused: { ...base, code: "assignment_expired", message: why } };
}

function leaseLog(msg: string, taskId: string, fields: Record<string, unknown>): void {
  console.log(JSON.stringify({ level: "info", msg, taskId, ...fields }));
}
