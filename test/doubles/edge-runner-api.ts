// An in-process double of the edge's runner protocol (docs/API.md "Runner protocol"), on loopback, for testing the
// runner manager before (and apart from) the real edge. It answers as the contract says — 201/200/204/
// 409/410/401 with the contract's error shape — keeps the task, lease and event state the manager's
// behaviour depends on, records every call, and lets a test inject faults: a lost answer (the call is
// handled, then the connection is dropped), an error answer, a cancel, a lost lease, a heartbeat action.
import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import type { z } from "@hono/zod-openapi";
import type { ErrorCode } from "../../protocol/errors.ts";
import { newId } from "../../protocol/ids.ts";
import { MAX_API_BODY_BYTES } from "../../protocol/limits.ts";
import {
  AcceptBody,
  FinishBody,
  JobEventsBody,
  JobHeartbeatBody,
  PollBody,
  RegisterBody,
  RunnerHeartbeatBody,
  type Accepted,
  type RunnerAction,
  type RunnerEvent,
  type RunnerSettings,
} from "../../protocol/runner.ts";
import type { Task, TaskType } from "../../protocol/task.ts";

export interface RecordedCall {
  method: string;
  path: string;
  body: unknown;
  status: number;
  auth?: string;
  at: number;
}

export interface Fault {
  method?: string;
  path: RegExp;
  /** How many matching calls it affects (default 1). */
  times?: number;
  /**
   * "drop": handle the call, then close the connection without an answer (the answer is lost);
   * `code`: answer the contract's error body; `raw`: answer this text instead (a proxy's page).
   */
  action: "drop" | { status: number; code: ErrorCode; message?: string; retryAfter?: number } | { status: number; raw: string; contentType?: string };
}

export interface RunnerRecord {
  id: string;
  token: string;
  name: string;
  labels: string[];
  slots: number;
  ephemeral: boolean;
  deleted: boolean;
  heartbeats: z.infer<typeof RunnerHeartbeatBody>[];
}

export interface TaskRecord {
  task: Task;
  status: "queued" | "assigned" | "running" | "canceling" | "succeeded" | "failed" | "canceled";
  assignment?: { id: string; runnerId: string; acceptBy: number; accepted?: Accepted };
  leaseEpoch: number;
  jobToken?: string;
  leaseExpiresAt: number;
  /** Runner events of the current lease, by runner seq. */
  events: Map<number, RunnerEvent>;
  finish?: { body: z.infer<typeof FinishBody>; answer: { task: Task } };
  cancelRequested: boolean;
}

interface ParkedPoll {
  runnerId: string;
  freeSlots: number;
  answer: (status: number, body?: unknown) => void;
}

const PROJECT = "prj_00000000000000000000000000";
const POOL = "default";

export class EdgeRunnerApiDouble {
  url = "";
  readonly calls: RecordedCall[] = [];
  readonly runners = new Map<string, RunnerRecord>();
  readonly tasks = new Map<string, TaskRecord>();
  readonly settings: RunnerSettings & { acceptSeconds: number };
  /** The edge's API body limit: a larger request is answered 413 `too_large` before it is parsed. */
  maxBodyBytes = MAX_API_BODY_BYTES;
  private readonly registrationTokens = new Map<string, { uses: number }>();
  private readonly jobTokens = new Map<string, { taskId: string; epoch: number }>();
  private readonly actions = new Map<string, RunnerAction[]>();
  private readonly faults: Fault[] = [];
  private parked: ParkedPoll[] = [];
  private readonly server: Server;
  private readonly sweeper: NodeJS.Timeout;

  private constructor(settings: Partial<RunnerSettings & { acceptSeconds: number }>) {
    this.settings = { pollWaitSeconds: 1, heartbeatSeconds: 1, leaseSeconds: 3, acceptSeconds: 5, ...settings };
    this.server = createServer((req, res) => void this.handle(req, res));
    // The TaskActor's alarm: lapsed leases and unaccepted assignments go back to the queue.
    this.sweeper = setInterval(() => this.sweep(), 100);
    this.sweeper.unref();
  }

  static async start(settings: Partial<RunnerSettings & { acceptSeconds: number }> = {}): Promise<EdgeRunnerApiDouble> {
    const double = new EdgeRunnerApiDouble(settings);
    await new Promise<void>((resolve) => double.server.listen(0, "127.0.0.1", resolve));
    const { port } = double.server.address() as AddressInfo;
    double.url = `http://127.0.0.1:${port}`;
    return double;
  }

  async close(): Promise<void> {
    clearInterval(this.sweeper);
    for (const poll of this.parked) poll.answer(204);
    this.parked = [];
    this.server.closeAllConnections();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }

  // ── test controls ──────────────────────────────────────────────────────────────────────────────

  addRegistrationToken(uses = 1): string {
    const token = `rgt_${newId("tok").slice(4)}`;
    this.registrationTokens.set(token, { uses });
    return token;
  }

  enqueueTask(opts: { type?: TaskType; payload?: Record<string, unknown>; timeoutSeconds?: number } = {}): string {
    const now = new Date().toISOString();
    const id = newId("tsk");
    const task: Task = {
      id,
      project: PROJECT,
      type: opts.type ?? "org-check",
      org: "demo",
      payload: opts.payload ?? {},
      priority: "normal",
      pool: POOL,
      labels: [],
      status: "queued",
      attempt: 1,
      maxAttempts: 3,
      timeoutSeconds: opts.timeoutSeconds ?? 3600,
      version: 1,
      createdAt: now,
      updatedAt: now,
      source: { kind: "api", tokenId: "tok_00000000000000000000000000" },
    };
    this.tasks.set(id, { task, status: "queued", leaseEpoch: 0, leaseExpiresAt: 0, events: new Map(), cancelRequested: false });
    this.dispatch();
    return id;
  }

  /** As `POST /v1/tasks/:id/cancel`: a queued task is canceled at once, a running one is asked to stop. */
  cancelTask(taskId: string): void {
    const rec = this.mustTask(taskId);
    if (rec.status === "queued" || rec.status === "assigned") rec.status = "canceled";
    else if (rec.status === "running") {
      rec.status = "canceling";
      rec.cancelRequested = true;
    }
  }

  /** As if the lease lapsed and the alarm requeued the task: every later write of the epoch gets 409. */
  loseLease(taskId: string): void {
    this.requeue(this.mustTask(taskId));
  }

  queueAction(runnerId: string, action: RunnerAction): void {
    this.actions.set(runnerId, [...(this.actions.get(runnerId) ?? []), action]);
  }

  inject(fault: Fault): void {
    this.faults.push({ times: 1, ...fault });
  }

  callsTo(method: string, path: RegExp): RecordedCall[] {
    return this.calls.filter((c) => c.method === method && path.test(c.path));
  }

  task(taskId: string): TaskRecord {
    return this.mustTask(taskId);
  }

  /** Resolves once `check` holds (polled), or rejects after `timeoutMs`. */
  async waitFor<T>(check: () => T | undefined | false, timeoutMs = 15_000, what = "condition"): Promise<T> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const value = check();
      if (value) return value;
      if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
      await new Promise((r) => setTimeout(r, 25));
    }
  }

  // ── protocol ───────────────────────────────────────────────────────────────────────────────────

  private async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const method = req.method ?? "GET";
    const path = (req.url ?? "/").split("?")[0];
    const text = await readText(req);
    if (Buffer.byteLength(text) > this.maxBodyBytes) {
      return this.reply(req, res, method, path, undefined, 413, errorBody("too_large", `request bodies are limited to ${this.maxBodyBytes} bytes`));
    }
    let body: unknown;
    try {
      body = text ? JSON.parse(text) : undefined;
    } catch {
      return this.reply(req, res, method, path, body, 400, errorBody("invalid_json", "the body is not JSON"));
    }
    const fault = this.faults.find((f) => (f.method ?? method) === method && f.path.test(path) && (f.times ?? 1) > 0);
    if (fault) {
      fault.times = (fault.times ?? 1) - 1;
      const action = fault.action;
      if (action !== "drop" && "raw" in action) {
        this.calls.push({ method, path, body, status: action.status, auth: bearer(req), at: Date.now() });
        res.writeHead(action.status, { "content-type": action.contentType ?? "text/html" });
        res.end(action.raw);
        return;
      }
      if (action !== "drop") {
        const headers: Record<string, string> = action.retryAfter === undefined ? {} : { "retry-after": String(action.retryAfter) };
        return this.reply(req, res, method, path, body, action.status, errorBody(action.code, action.message ?? "injected fault"), headers);
      }
    }
    const respond = (status: number, answer?: unknown) => {
      if (fault?.action === "drop") {
        this.calls.push({ method, path, body, status: -1, auth: bearer(req), at: Date.now() });
        res.destroy();
        return;
      }
      this.reply(req, res, method, path, body, status, answer);
    };
    try {
      await this.route(req, method, path, body, respond, res);
    } catch (err) {
      respond(500, errorBody("internal", err instanceof Error ? err.message : String(err)));
    }
  }

  private async route(
    req: IncomingMessage,
    method: string,
    path: string,
    body: unknown,
    respond: (status: number, answer?: unknown) => void,
    res: ServerResponse,
  ): Promise<void> {
    if (method === "POST" && path === "/v1/runners/register") return respond(...this.register(body));
    const job = /^\/v1\/jobs\/([^/]+)\/(accept|heartbeat|events|finish)$/.exec(path);
    if (job && method === "POST") {
      const taskId = decodeURIComponent(job[1]);
      if (job[2] === "accept") {
        const runner = this.runnerOf(req);
        if (!runner) return respond(401, errorBody("unauthenticated", "runner token required"));
        return respond(...this.accept(runner, taskId, body));
      }
      return respond(...this.jobCall(job[2], req, taskId, body));
    }
    const runner = this.runnerOf(req);
    if (!runner) return respond(401, errorBody("unauthenticated", "runner token required"));
    if (method === "POST" && path === "/v1/runners/poll") return this.poll(runner, body, respond, res);
    if (method === "POST" && path === "/v1/runners/heartbeat") {
      const parsed = RunnerHeartbeatBody.safeParse(body);
      if (!parsed.success) return respond(400, invalid(parsed.error));
      runner.heartbeats.push(parsed.data);
      const actions = this.actions.get(runner.id) ?? [];
      this.actions.delete(runner.id);
      return respond(200, { actions });
    }
    if (method === "DELETE" && path === "/v1/runners/self") {
      runner.deleted = true;
      return respond(204);
    }
    respond(404, errorBody("not_found", `no route for ${method} ${path}`));
  }

  private register(body: unknown): [number, unknown] {
    const parsed = RegisterBody.safeParse(body);
    if (!parsed.success) return [400, invalid(parsed.error)];
    const grant = this.registrationTokens.get(parsed.data.registrationToken);
    if (!grant || grant.uses <= 0) return [401, errorBody("unauthenticated", "unknown, expired or used registration token")];
    grant.uses--;
    const id = newId("rnr");
    const token = `rnt_${newId("tok").slice(4)}${newId("tok").slice(4)}`;
    this.runners.set(id, { id, token, ...parsed.data, deleted: false, heartbeats: [] });
    const settings = {
      pollWaitSeconds: this.settings.pollWaitSeconds,
      heartbeatSeconds: this.settings.heartbeatSeconds,
      leaseSeconds: this.settings.leaseSeconds,
    };
    return [201, { runnerId: id, runnerToken: token, project: PROJECT, pool: POOL, settings }];
  }

  private poll(runner: RunnerRecord, body: unknown, respond: (status: number, answer?: unknown) => void, res: ServerResponse): void {
    const parsed = PollBody.safeParse(body);
    if (!parsed.success) {
      respond(400, invalid(parsed.error));
      return;
    }
    const { freeSlots, waitSeconds } = parsed.data;
    const assignments = this.assign(runner.id, freeSlots);
    if (assignments.length > 0 || freeSlots === 0) {
      if (assignments.length > 0) respond(200, { assignments });
      else respond(204);
      return;
    }
    let answered = false;
    const parked: ParkedPoll = {
      runnerId: runner.id,
      freeSlots,
      answer: (status, answer) => {
        if (answered) return;
        answered = true;
        clearTimeout(timer);
        this.parked = this.parked.filter((p) => p !== parked);
        respond(status, answer);
      },
    };
    const timer = setTimeout(() => parked.answer(204), Math.min(waitSeconds, this.settings.pollWaitSeconds) * 1000);
    // A poll the runner gave up on (drain) must not be handed work.
    res.on("close", () => {
      if (!answered) {
        answered = true;
        clearTimeout(timer);
        this.parked = this.parked.filter((p) => p !== parked);
      }
    });
    this.parked.push(parked);
  }

  private assign(runnerId: string, max: number): { taskId: string; assignmentId: string; acceptBy: string }[] {
    const out = [];
    for (const rec of this.tasks.values()) {
      if (out.length >= max) break;
      if (rec.status !== "queued") continue;
      const acceptBy = Date.now() + this.settings.acceptSeconds * 1000;
      rec.status = "assigned";
      rec.assignment = { id: newId("asg"), runnerId, acceptBy };
      out.push({ taskId: rec.task.id, assignmentId: rec.assignment.id, acceptBy: new Date(acceptBy).toISOString() });
    }
    return out;
  }

  private dispatch(): void {
    for (const poll of [...this.parked]) {
      const assignments = this.assign(poll.runnerId, poll.freeSlots);
      if (assignments.length > 0) poll.answer(200, { assignments });
    }
  }

  private accept(runner: RunnerRecord, taskId: string, body: unknown): [number, unknown] {
    const parsed = AcceptBody.safeParse(body);
    if (!parsed.success) return [400, invalid(parsed.error)];
    const rec = this.tasks.get(taskId);
    if (!rec) return [404, errorBody("not_found", "no such task")];
    const a = rec.assignment;
    if (a?.id === parsed.data.assignmentId && a.runnerId === runner.id && a.accepted) {
      if (rec.status === "canceled") return [410, errorBody("gone", "the task was canceled")];
      return [200, a.accepted];
    }
    if (rec.status === "canceled") return [410, errorBody("gone", "the task was canceled")];
    if (!a || a.id !== parsed.data.assignmentId || a.runnerId !== runner.id || rec.status !== "assigned" || Date.now() > a.acceptBy) {
      return [409, errorBody("assignment_expired", "the assignment expired or was taken")];
    }
    rec.leaseEpoch++;
    rec.status = "running";
    rec.events = new Map();
    rec.leaseExpiresAt = Date.now() + this.settings.leaseSeconds * 1000;
    rec.jobToken = `job_${newId("tok").slice(4)}`;
    this.jobTokens.set(rec.jobToken, { taskId, epoch: rec.leaseEpoch });
    rec.task = { ...rec.task, status: "running", version: rec.task.version + 1, startedAt: new Date().toISOString() };
    a.accepted = { jobToken: rec.jobToken, leaseEpoch: rec.leaseEpoch, leaseExpiresAt: new Date(rec.leaseExpiresAt).toISOString(), task: rec.task };
    return [200, a.accepted];
  }

  private jobCall(call: string, req: IncomingMessage, taskId: string, body: unknown): [number, unknown] {
    const grant = this.jobTokens.get(bearer(req) ?? "");
    const rec = this.tasks.get(taskId);
    if (!grant || grant.taskId !== taskId || !rec) return [401, errorBody("unauthenticated", "job token required")];
    const schema = call === "heartbeat" ? JobHeartbeatBody : call === "events" ? JobEventsBody : FinishBody;
    const parsed = schema.safeParse(body);
    if (!parsed.success) return [400, invalid(parsed.error)];
    const { leaseEpoch } = parsed.data;
    // The same finish again gets the same answer, even after the task is done.
    if (call === "finish" && rec.finish && rec.finish.body.leaseEpoch === leaseEpoch && grant.epoch === leaseEpoch) {
      return [200, rec.finish.answer];
    }
    if (grant.epoch !== rec.leaseEpoch || leaseEpoch !== rec.leaseEpoch) {
      return [409, errorBody("stale_lease", "the lease is no longer this epoch's")];
    }
    if (rec.finish || ["succeeded", "failed", "canceled"].includes(rec.status)) return [410, errorBody("gone", "the task is finished")];
    if (rec.status !== "running" && rec.status !== "canceling") return [409, errorBody("stale_lease", "the lease is no longer this epoch's")];
    if (call === "heartbeat") {
      rec.leaseExpiresAt = Date.now() + this.settings.leaseSeconds * 1000;
      return [200, { leaseExpiresAt: new Date(rec.leaseExpiresAt).toISOString(), cancelRequested: rec.cancelRequested }];
    }
    if (call === "events") {
      for (const event of (parsed.data as z.infer<typeof JobEventsBody>).events) {
        if (!rec.events.has(event.seq)) rec.events.set(event.seq, event);
      }
      let acked = 0;
      while (rec.events.has(acked + 1)) acked++;
      return [200, { ackedSeq: acked }];
    }
    const finish = parsed.data as z.infer<typeof FinishBody>;
    if (finish.outcome === "canceled" && !rec.cancelRequested) {
      return [409, errorBody("conflict", "outcome canceled, but no cancel was requested")];
    }
    rec.status = finish.outcome;
    rec.task = {
      ...rec.task,
      status: finish.outcome,
      version: rec.task.version + 1,
      finishedAt: new Date().toISOString(),
      ...(finish.result === undefined ? {} : { result: finish.result }),
      ...(finish.error ? { error: finish.error } : {}),
    };
    rec.finish = { body: finish, answer: { task: rec.task } };
    return [200, rec.finish.answer];
  }

  private sweep(): void {
    const now = Date.now();
    for (const rec of this.tasks.values()) {
      if (rec.status === "assigned" && rec.assignment && now > rec.assignment.acceptBy) rec.status = "queued";
      else if ((rec.status === "running" || rec.status === "canceling") && now > rec.leaseExpiresAt) this.requeue(rec);
    }
    this.dispatch();
  }

  private requeue(rec: TaskRecord): void {
    rec.leaseEpoch++; // nobody holds this epoch: the old one is stale from now on
    rec.status = rec.cancelRequested ? "canceled" : "queued";
    rec.assignment = undefined;
    rec.task = { ...rec.task, status: rec.status, attempt: rec.task.attempt + 1, version: rec.task.version + 1 };
  }

  private runnerOf(req: IncomingMessage): RunnerRecord | undefined {
    const token = bearer(req);
    for (const runner of this.runners.values()) if (!runner.deleted && runner.token === token) return runner;
    return undefined;
  }

  private mustTask(taskId: string): TaskRecord {
    const rec = this.tasks.get(taskId);
    if (!rec) throw new Error(`no task ${taskId}`);
    return rec;
  }

  private reply(
    req: IncomingMessage,
    res: ServerResponse,
    method: string,
    path: string,
    body: unknown,
    status: number,
    answer?: unknown,
    headers: Record<string, string> = {},
  ): void {
    this.calls.push({ method, path, body, status, auth: bearer(req), at: Date.now() });
    if (res.destroyed) return;
    if (answer === undefined) {
      res.writeHead(status);
      res.end();
      return;
    }
    res.writeHead(status, { "content-type": "application/json", ...headers });
    res.end(JSON.stringify(answer));
  }
}

function errorBody(code: ErrorCode, message: string): { error: { code: ErrorCode; message: string; requestId: string } } {
  return { error: { code, message, requestId: newId("req") } };
}

function invalid(error: z.ZodError): unknown {
  const field = error.issues[0]?.path.join(".") || "body";
  return { error: { code: "invalid_request", message: `invalid ${field}: ${error.issues[0]?.message}`, requestId: newId("req"), field } };
}

function bearer(req: IncomingMessage): string | undefined {
  const auth = req.headers.authorization;
  return auth?.startsWith("Bearer ") ? auth.slice(7) : undefined;
}

function readText(req: IncomingMessage): Promise<string> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    req.on("data", (c: Buffer) => chunks.push(c));
    req.on("end", () => resolve(Buffer.concat(chunks).toString("utf8")));
    req.on("error", reject);
  });
}
