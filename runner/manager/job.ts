// One accepted job: its worker process, its lease, its events and its finish. The worker is a separate
// process, so a CPU-bound operation cannot starve the lease renewals that run here.
import type { ChildProcess } from "node:child_process";
import { z } from "@hono/zod-openapi";
import { EdgeError } from "../../protocol/client.ts";
import type { ErrorCode } from "../../protocol/errors.ts";
import { OUTCOMES, type Accepted, type FinishBody } from "../../protocol/runner.ts";
import type { JobSample } from "../../protocol/live.ts";
import { CheckpointFields } from "../../protocol/checkpoint.ts";
import { TaskErrorInfo } from "../../protocol/task.ts";
import type { CredentialBroker } from "../credentials/broker.ts";
import type { ManagerToWorker } from "../ipc.ts";
import { LEASE_RENEWALS_PER_LEASE } from "../../protocol/limits.ts";
import { sleep } from "../../protocol/retry.ts";
import { TIMING, type ManagerConfig } from "./config.ts";
import { JobArtifacts } from "./job-artifacts.ts";
import { JobCredentials } from "./job-credentials.ts";
import type { RunnerApi } from "./edge-api.ts";
import { JobEvents } from "./job-events.ts";
import type { Logger } from "./log.ts";
import type { Metrics } from "./metrics.ts";
import { fitFinish, tooLargeFinish } from "./result-budget.ts";
import type { SpareWorker } from "./spares.ts";
import { ProcessSampler } from "./proc-stats.ts";
import { exited, relayOutput, spawnWorker, workerEnv } from "./worker-process.ts";

/** Why the manager stops a job before its worker is done. The first reason given wins. */
export type StopReason = "canceled" | "lease_lost" | "gone" | "timeout" | "shutdown" | "start_failed";

/**
 * The contract's codes that end this lease's writes (protocol/runner.ts): the epoch is stale or the
 * token refused (stop, send no finish: the edge requeues), or the task is finished (`gone`).
 */
const LEASE_ENDING_CODES: Partial<Record<ErrorCode | "network", "lease_lost" | "gone">> = {
  stale_lease: "lease_lost",
  conflict: "lease_lost",
  already_finished: "lease_lost",
  gone: "gone",
  unauthenticated: "lease_lost",
  forbidden: "lease_lost",
  not_found: "lease_lost",
};

/** How a job ended here: a finish outcome, or `lost` when the edge took the lease back (no finish sent). */
export type JobOutcome = (typeof OUTCOMES)[number] | "lost";

export interface JobDeps {
  api: RunnerApi;
  config: Pick<ManagerConfig, "workerEntry" | "cancelGraceMs" | "killGraceMs" | "workerEnvPassthrough" | "source" | "zipPolicy">;
  leaseSeconds: number;
  log: Logger;
  metrics: Metrics;
  /** Hands a worker its task's org (the store and its secrets stay in the manager). */
  credentials: CredentialBroker;
  /** The manager's environment, from which the worker's is filtered. */
  env: NodeJS.ProcessEnv;
  /** A warm spare for this job, if the manager has one; without one the job forks its worker. */
  takeSpare?: (taskId: string) => SpareWorker | undefined;
}

// The worker is our own code, but its messages still cross a process boundary: check them.
const WorkerMessage = z.discriminatedUnion("type", [
  z.object({ type: z.literal("ready") }),
  z.object({ type: z.literal("auth"), project: z.string(), alias: z.string() }),
  z.object({ type: z.literal("repo"), url: z.string().max(2048) }),
  z.object({ type: z.literal("artifact"), name: z.string().max(128), path: z.string().max(4096), contentType: z.string().max(200) }),
  z.object({ type: z.literal("secrets"), values: z.array(z.string().max(8192)).max(16) }),
  z.object({ type: z.literal("event"), event: z.record(z.string(), z.unknown()) }),
  z.object({ type: z.literal("checkpoint"), ref: z.number().int(), checkpoint: CheckpointFields }),
  z.object({ type: z.literal("done"), outcome: z.enum(OUTCOMES), result: z.unknown().optional(), error: TaskErrorInfo.optional() }),
]);
type DoneMessage = Extract<z.infer<typeof WorkerMessage>, { type: "done" }>;

export class Job {
  readonly taskId: string;
  private readonly accepted: Accepted;
  private readonly deps: JobDeps;
  private readonly log: Logger;
  private readonly leaseMs: number;
  private leaseValidUntil: number;
  /** The job is constructed right after its accept: `start` is sent this long after it (bench B5). */
  private readonly acceptedAt: number;
  /** Aborted when the lease is lost or the task is gone: no further write of this epoch makes sense. */
  private readonly leaseGone = new AbortController();
  /** Aborted once the finish is through: ends the lease renewals. */
  private readonly ended = new AbortController();
  private stopReason?: StopReason;
  private stopMessage = "";
  private child?: ChildProcess;
  private startedWorker = false;
  /** The worker was a spare that had already said `ready`. */
  private workerWasReady = false;
  private done?: DoneMessage;
  /** The worker's ask for its org, and the job's secrets for masking its output. */
  private readonly credentials: JobCredentials;
  /** Files the worker asks to store as the task's artifacts (uploaded here, with the job token). */
  private readonly artifacts: JobArtifacts;
  private readonly killTimers: NodeJS.Timeout[] = [];
  /** The worker's CPU and RSS, sampled at each lease renewal (proc-stats.ts); the last sample is the runner heartbeat's too. */
  private readonly worker = new ProcessSampler(() => this.child?.pid);
  lastSample: JobSample | null = null;

  /** The worker's events, numbered, batched within the body limit and resent until acknowledged. */
  private readonly events: JobEvents;

  constructor(accepted: Accepted, deps: JobDeps) {
    this.accepted = accepted;
    this.taskId = accepted.task.id;
    this.deps = deps;
    this.log = deps.log.child({ taskId: this.taskId, leaseEpoch: accepted.leaseEpoch });
    this.credentials = new JobCredentials(accepted.task, deps.credentials, this.log);
    this.artifacts = new JobArtifacts(accepted.task.id, { client: deps.api.client, token: accepted.jobToken, leaseEpoch: accepted.leaseEpoch }, this.log);
    this.leaseMs = deps.leaseSeconds * 1000;
    this.leaseValidUntil = Date.now() + this.leaseMs;
    this.acceptedAt = Date.now();
    this.events = new JobEvents({
      post: (events) => deps.api.postEvents(this.taskId, accepted.jobToken, accepted.leaseEpoch, events),
      refused: (err) => this.onWriteRefused(err, "events"),
      leaseGone: this.leaseGone.signal,
      log: this.log,
    });
  }

  get stopping(): boolean {
    return this.stopReason !== undefined;
  }

  /** Runs the job to its end: worker gone, events delivered, finish acknowledged (or the lease lost). */
  async run(): Promise<JobOutcome> {
    const startedAt = Date.now();
    const task = this.accepted.task;
    this.deps.metrics.jobStarted();
    this.log.info("job started", { type: task.type, org: task.org, attempt: task.attempt, timeoutSeconds: task.timeoutSeconds });
    const renewals = this.renewLease();
    const timeout = setTimeout(() => this.stop("timeout", `the task ran longer than its timeout of ${task.timeoutSeconds} s`), task.timeoutSeconds * 1000);
    let exit: { code: number | null; signal: NodeJS.Signals | null } | undefined;
    try {
      if (!this.stopping) exit = await this.runWorker();
    } finally {
      clearTimeout(timeout);
      for (const t of this.killTimers) clearTimeout(t);
      await this.artifacts.cleanup();
    }

    const finish = this.fitted(this.finishBody(exit));
    let outcome: JobOutcome = "lost";
    if (finish) {
      await this.events.flush(true);
      outcome = (await this.sendFinish(finish)) ? finish.outcome : "lost";
    }
    this.ended.abort();
    await renewals;
    const seconds = (Date.now() - startedAt) / 1000;
    this.deps.metrics.jobFinished(outcome, seconds);
    this.log.info("job ended", { outcome, seconds, error: finish?.error, stopReason: this.stopReason, exitCode: exit?.code, signal: exit?.signal });
    return outcome;
  }

  /**
   * Stops the job: the worker is asked over IPC, then gets SIGTERM after the cancel grace period,
   * then SIGKILL after the kill grace period.
   */
  stop(reason: StopReason, message: string): void {
    if (this.stopReason) return;
    this.stopReason = reason;
    this.stopMessage = message;
    this.log.info("stopping job", { reason, message });
    const child = this.child;
    if (!child || child.exitCode !== null || child.signalCode !== null) return;
    // A lost lease leaves a checkpointed Salesforce job running: the task's next attempt resumes it.
    if (this.startedWorker) this.send({ type: "cancel", reason: message, ...(reason === "lease_lost" ? { leave: true } : {}) });
    const { cancelGraceMs, killGraceMs } = this.deps.config;
    this.killTimers.push(
      setTimeout(() => this.signal("SIGTERM"), this.startedWorker ? cancelGraceMs : 0),
      setTimeout(() => this.signal("SIGKILL"), (this.startedWorker ? cancelGraceMs : 0) + killGraceMs),
    );
  }

  private async runWorker(): Promise<{ code: number | null; signal: NodeJS.Signals | null }> {
    const child = this.workerProcess();
    this.child = child;
    const spawnFailed = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) =>
      child.once("error", (err) => {
        this.log.error("worker process error", { error: err });
        if (child.exitCode === null && child.signalCode === null && child.pid === undefined) resolve({ code: null, signal: null });
      }),
    );
    const readyTimer = setTimeout(() => {
      if (!this.startedWorker) {
        this.log.error("worker did not become ready", { timeoutMs: TIMING.workerReadyTimeoutMs });
        this.stop("start_failed", `the worker did not start within ${TIMING.workerReadyTimeoutMs} ms`);
      }
    }, TIMING.workerReadyTimeoutMs);
    child.on("message", (raw: unknown) => this.onMessage(raw));
    if (this.workerWasReady) this.onReady();
    try {
      return await Promise.race([exited(child), spawnFailed]);
    } finally {
      clearTimeout(readyTimer);
    }
  }

  /** A warm spare when the manager has one (no fork now), else a worker forked for this job. */
  private workerProcess(): ChildProcess {
    const spare = this.deps.takeSpare?.(this.taskId);
    if (spare) {
      spare.output.log = this.log;
      spare.output.taskId = this.taskId;
      this.credentials.masker = spare.output.masker;
      this.workerWasReady = spare.ready;
      this.log.info("worker taken from spares", { pid: spare.child.pid, ready: spare.ready });
      return spare.child;
    }
    const child = spawnWorker({ entry: this.deps.config.workerEntry, env: workerEnv(this.deps.env, this.deps.config.workerEnvPassthrough) });
    this.log.info("worker spawned", { pid: child.pid });
    relayOutput(child, { log: this.log, taskId: this.taskId, masker: this.credentials.masker });
    return child;
  }

  private onMessage(raw: unknown): void {
    const parsed = WorkerMessage.safeParse(raw);
    if (!parsed.success) {
      this.log.warn("ignored a malformed worker message", { issues: parsed.error.issues.length });
      return;
    }
    const msg = parsed.data;
    if (msg.type === "ready") {
      this.onReady();
    } else if (msg.type === "auth") {
      void this.credentials.answer(msg, this.startedWorker).then((answer) => this.send(answer));
    } else if (msg.type === "artifact") {
      void this.artifacts.answer(msg, this.leaseGone.signal).then((answer) => this.send(answer));
    } else if (msg.type === "repo") {
      void this.credentials.answerRepo(msg, this.startedWorker).then((answer) => this.send(answer));
    } else if (msg.type === "secrets") {
      this.credentials.reportedSecrets(msg.values);
    } else if (msg.type === "event") {
      this.events.enqueue(msg.event);
    } else if (msg.type === "checkpoint") {
      void this.checkpoint(msg.ref, msg.checkpoint);
    } else {
      this.done = msg;
      // A worker that said done but lingers is not left holding a slot.
      this.killTimers.push(setTimeout(() => this.signal("SIGKILL"), TIMING.workerExitAfterDoneMs));
    }
  }

  /** The worker is ready: it gets its job now, and only now (its org's credentials when it asks). */
  private onReady(): void {
    if (this.startedWorker) return;
    if (this.stopping) {
      this.signal("SIGTERM");
      return;
    }
    this.startedWorker = true;
    // The checkout settings go only to a job that deploys from a repository.
    const task = this.accepted.task;
    const fromRepo =
      (task.type === "deploy" || task.type === "validate") && typeof task.payload === "object" && task.payload !== null && "source" in task.payload;
    // A retrieve stores its package as artifacts: it gets a directory to write them into.
    const artifactDir = task.type === "retrieve" ? this.artifacts.directory() : undefined;
    this.send({
      type: "start",
      task,
      zipPolicy: this.deps.config.zipPolicy,
      ...(fromRepo ? { source: this.deps.config.source } : {}),
      ...(artifactDir ? { artifactDir } : {}),
    });
    this.log.info("worker started", { pid: this.child?.pid, msSinceAccept: Date.now() - this.acceptedAt });
  }

  private send(msg: ManagerToWorker): void {
    const child = this.child;
    if (!child?.connected) return;
    try {
      child.send(msg, (err) => {
        if (err) this.log.warn("could not message the worker", { type: msg.type, error: err });
      });
    } catch (err) {
      this.log.warn("could not message the worker", { type: msg.type, error: err });
    }
  }

  private signal(signal: NodeJS.Signals): void {
    const child = this.child;
    if (!child || child.exitCode !== null || child.signalCode !== null) return;
    this.log.warn("signalling the worker", { signal, pid: child.pid });
    child.kill(signal);
  }

  // ── lease ──────────────────────────────────────────────────────────────────────────────────────

  private async renewLease(): Promise<void> {
    const every = this.leaseMs / LEASE_RENEWALS_PER_LEASE;
    while (!this.ended.signal.aborted && !this.leaseGone.signal.aborted) {
      // The worker's CPU is measured over the wait: this reading is the baseline.
      this.worker.sample();
      await sleep(every, AbortSignal.any([this.ended.signal, this.leaseGone.signal]));
      if (this.ended.signal.aborted || this.leaseGone.signal.aborted) return;
      const sentAt = Date.now();
      try {
        this.lastSample = this.worker.sample() ?? this.lastSample;
        const sample = this.lastSample ?? undefined;
        const answer = await this.deps.api.jobHeartbeat(this.taskId, this.accepted.jobToken, this.accepted.leaseEpoch, () => this.leaseValidUntil, sample);
        // Counted from when we asked, so that our idea of the lease never outlives the edge's.
        this.leaseValidUntil = sentAt + this.leaseMs;
        if (answer.cancelRequested) this.stop("canceled", "the task was canceled");
      } catch (err) {
        if (this.onWriteRefused(err, "lease renewal")) return;
        this.log.warn("lease renewal failed", { error: err });
      }
      if (Date.now() >= this.leaseValidUntil) {
        this.loseLease("lease_lost", "the lease lapsed without a renewal");
        return;
      }
    }
  }

  /** Handles the answers that end this epoch's writes; true when the error was one of them. */
  private onWriteRefused(err: unknown, what: string): boolean {
    if (!(err instanceof EdgeError)) return false;
    const ending = LEASE_ENDING_CODES[err.code];
    if (!ending) return false;
    const why =
      ending === "gone"
        ? "the task is already finished"
        : err.code === "stale_lease" || err.code === "conflict" || err.code === "already_finished"
          ? `the lease is no longer ours (${err.code})`
          : `the job token was refused (${err.code})`;
    this.loseLease(ending, `the edge refused the ${what}: ${why}`);
    return true;
  }

  private loseLease(reason: "lease_lost" | "gone", message: string): void {
    if (this.leaseGone.signal.aborted) return;
    this.log.warn("lease lost", { reason, message });
    this.leaseGone.abort();
    this.stop(reason, message);
  }

  /** A checkpoint goes to the edge at once (with the events before it), and the worker hears whether it is stored. */
  private async checkpoint(ref: number, fields: CheckpointFields): Promise<void> {
    const stored = this.events.enqueue({ type: "checkpoint", ...fields }) && (await this.events.flushAll());
    this.log[stored ? "info" : "warn"](stored ? "checkpoint stored" : "checkpoint not stored", { ...fields });
    this.send({ type: "checkpoint", ref, stored });
  }

  // ── finish ─────────────────────────────────────────────────────────────────────────────────────

  private finishBody(exit: { code: number | null; signal: NodeJS.Signals | null } | undefined): FinishBody | undefined {
    if (this.leaseGone.signal.aborted) return undefined;
    const leaseEpoch = this.accepted.leaseEpoch;
    const done = this.done;
    if (done?.outcome === "succeeded") return { leaseEpoch, outcome: "succeeded", result: done.result };
    switch (this.stopReason) {
      case "canceled":
        return { leaseEpoch, outcome: "canceled", ...(done?.result === undefined ? {} : { result: done.result }) };
      case "timeout":
        return { leaseEpoch, outcome: "failed", error: { code: "timeout", message: this.stopMessage } };
      case "shutdown":
        return { leaseEpoch, outcome: "failed", error: { code: "runner_shutdown", message: this.stopMessage } };
      case "start_failed":
        return { leaseEpoch, outcome: "failed", error: { code: "worker_start_failed", message: this.stopMessage } };
    }
    if (done) return { leaseEpoch, outcome: done.outcome, result: done.result, error: done.error };
    const how = exit?.signal ? `was killed by ${exit.signal}` : `exited with code ${exit?.code ?? "unknown"}`;
    return { leaseEpoch, outcome: "failed", error: { code: "worker_crashed", message: `the worker ${how} before reporting an outcome` } };
  }

  /** The finish with its result cut to the API body limit (result-budget.ts). */
  private fitted(body: FinishBody | undefined): FinishBody | undefined {
    if (!body) return undefined;
    const fit = fitFinish(body);
    if (fit.truncation) {
      const { originalBytes, limitBytes, cut } = fit.truncation;
      this.log.warn("the job's result is over the finish budget; sending it truncated", { originalBytes, limitBytes, cut: cut.map((c) => c.path) });
    }
    return fit.body;
  }

  /** True when the edge took the finish (or already had it). */
  private async sendFinish(body: FinishBody, refusedOnce = false): Promise<boolean> {
    try {
      await this.deps.api.finish(this.taskId, this.accepted.jobToken, body, () => this.leaseValidUntil);
      return true;
    } catch (err) {
      if (err instanceof EdgeError && err.code === "gone") return true;
      if (err instanceof EdgeError && err.code === "too_large" && !refusedOnce) {
        // Retrying the same body would meet the same 413 until the lease lapsed and the task ran again.
        const bytes = Buffer.byteLength(JSON.stringify(body));
        this.log.error("the edge refused the finish as too large; finishing with result_too_large", { bytes, outcome: body.outcome });
        return this.sendFinish(tooLargeFinish(body, bytes), true);
      }
      if (this.onWriteRefused(err, "finish")) return false;
      this.log.error("could not finish the job; the edge will requeue it when the lease lapses", { error: err });
      return false;
    }
  }
}
