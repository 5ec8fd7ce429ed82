// The manager's loops: register (or reuse the stored runner token), heartbeat, long-poll while a
// slot is free, accept, run each job, drain, deregister when ephemeral. Jobs live in job.ts; the
// edge calls and their retry policies in edge-api.ts; every timing in config.ts.
import { EventEmitter, once } from "node:events";
import { EdgeError } from "../../protocol/client.ts";
import type { ErrorCode } from "../../protocol/errors.ts";
import { MAX_RUNNER_POLL_SECONDS } from "../../protocol/limits.ts";
import { retryDelayMs, sleep } from "../../protocol/retry.ts";
import type { Assignment, RunnerAction, RunnerHeartbeatBody, RunnerSettings } from "../../protocol/runner.ts";
import type { CredentialBroker } from "../credentials/broker.ts";
import { EventSubscriptions } from "../events/subscriptions.ts";
import { ConfigError, RETRY, TIMING, type ManagerConfig } from "./config.ts";
import { RunnerApi } from "./edge-api.ts";
import { Job } from "./job.ts";
import type { Logger } from "./log.ts";
import type { Metrics } from "./metrics.ts";
import { ResourceSampler } from "./resources.ts";
import { SparePool } from "./spares.ts";
import { loadRunner, removeRunner, saveRunner } from "./state-file.ts";

export type AgentState = "starting" | "idle" | "busy" | "draining" | "stopped";

export interface AgentDeps {
  config: ManagerConfig;
  log: Logger;
  metrics: Metrics;
  /** Hands each worker its task's org over IPC; the store stays in the manager. */
  credentials: CredentialBroker;
  /** The manager's environment, filtered for each worker. */
  env?: NodeJS.ProcessEnv;
}

export class Agent {
  readonly config: ManagerConfig;
  readonly api: RunnerApi;
  runnerId?: string;
  settings?: RunnerSettings;
  private readonly deps: AgentDeps;
  private readonly log: Logger;
  private readonly jobs = new Map<string, Job>();
  private accepting = 0;
  private draining = false;
  private finished = false;
  private exitCode = 0;
  /** Ephemeral: a slot is taken by an assignment being accepted or run (released if the accept fails). */
  private tookOne = false;
  /** Ephemeral: its one job was accepted; it polls no more. */
  private hasItsJob = false;
  private readonly resources = new ResourceSampler();
  /** Aborts an in-flight long poll when draining. */
  private readonly stopPolling = new AbortController();
  /** Ends the heartbeat loop on the way out. */
  private readonly stopHeartbeats = new AbortController();
  /** Replaced on every wake: aborting it cuts short the poll loop's wait. */
  private wakeUp = new AbortController();
  /** Emits "change" whenever a job ends, an accept settles, or draining starts. */
  private readonly changes = new EventEmitter();
  /** Workers forked and ready ahead of jobs (spares.ts); killed on drain. */
  readonly spares: SparePool;
  /** The project this runner serves (from its registration), and its Platform Event subscribers. */
  private project?: string;
  private events?: EventSubscriptions;

  constructor(deps: AgentDeps) {
    this.deps = deps;
    this.config = deps.config;
    this.log = deps.log;
    this.api = new RunnerApi(deps.config.edgeUrl, { metrics: deps.metrics, log: deps.log });
    deps.metrics.slots = () => ({ total: this.config.slots, free: this.freeSlots() });
    this.spares = new SparePool({ config: deps.config, env: deps.env ?? process.env, log: deps.log, wanted: () => this.sparesWanted() });
  }

  get state(): AgentState {
    if (this.finished) return "stopped";
    if (this.draining) return "draining";
    if (!this.settings) return "starting";
    return this.jobs.size + this.accepting > 0 ? "busy" : "idle";
  }

  get activeTasks(): string[] {
    return [...this.jobs.keys()];
  }

  freeSlots(): number {
    if (this.draining || this.finished || (this.config.ephemeral && this.tookOne)) return 0;
    return Math.max(0, this.config.slots - this.jobs.size - this.accepting);
  }

  /**
   * One spare per free slot, and at least one while every slot is busy, so that the next job finds a
   * ready worker too; none once draining, nor for an ephemeral runner that has its one job.
   */
  private sparesWanted(): number {
    if (this.draining || this.finished || (this.config.ephemeral && this.tookOne)) return 0;
    return Math.min(TIMING.maxSpares, Math.max(1, this.freeSlots()));
  }

  /** Runs until drained (or, ephemeral, after its one job); resolves with the process exit code. */
  async run(): Promise<number> {
    try {
      await this.connect();
    } catch (err) {
      this.finished = true;
      this.log.error("could not register with the edge", { error: err });
      return err instanceof ConfigError ? 2 : 1;
    }
    const heartbeats = this.heartbeatLoop();
    if (this.project && !this.config.ephemeral) {
      this.events = new EventSubscriptions({ edge: this.api.client, credentials: this.deps.credentials, project: this.project, log: this.log });
      this.events.start();
    }
    const refillSpares = () => this.spares.refill();
    this.changes.on("change", refillSpares);
    refillSpares();
    await this.pollLoop();
    while (this.jobs.size > 0 || this.accepting > 0) await once(this.changes, "change");
    this.changes.off("change", refillSpares);
    // Drain closed the pool already; an ephemeral runner's one job has taken its spare.
    await this.spares.close();
    if (this.config.ephemeral) await this.deregister();
    this.stopHeartbeats.abort();
    await heartbeats;
    this.finished = true;
    this.log.info("manager stopped", { exitCode: this.exitCode });
    return this.exitCode;
  }

  /** Stops taking work; running jobs finish; the process exits when they have (first SIGTERM). */
  drain(reason: string): void {
    if (this.draining) return;
    this.draining = true;
    this.log.info("draining", { reason, activeTasks: this.activeTasks });
    this.stopPolling.abort();
    this.wakeUp.abort();
    void this.spares.close();
    void this.events?.stop();
    this.changes.emit("change");
    void this.beat();
  }

  /** Drains and stops every running job now (second SIGTERM). */
  cancelAll(reason: string): void {
    this.drain(reason);
    for (const job of this.jobs.values()) job.stop("shutdown", `the runner was stopped while the job ran (${reason})`);
  }

  /** A verified wake from the edge: poll now rather than after the current wait. */
  wake(): boolean {
    if (this.draining || this.finished || this.freeSlots() === 0) return false;
    this.wakeUp.abort();
    this.wakeUp = new AbortController();
    return true;
  }

  private async connect(): Promise<void> {
    const { config } = this;
    const stored = loadRunner(config.stateFile, config.edgeUrl);
    if (stored) {
      this.api.runnerToken = stored.runnerToken;
      try {
        this.handleActions(await this.api.verifyToken(this.heartbeatBody("idle")));
        this.adopt(stored.runnerId, stored.settings);
        this.project = stored.project;
        this.log.info("reusing the stored runner registration", { runnerId: stored.runnerId, pool: stored.pool });
        return;
      } catch (err) {
        if (!tokenRefused(err)) {
          // The edge is unreachable for now: the loops keep trying with the stored token.
          this.adopt(stored.runnerId, stored.settings);
          this.project = stored.project;
          this.log.warn("could not check the stored runner token; using it", { runnerId: stored.runnerId, error: err });
          return;
        }
        this.log.warn("the edge refused the stored runner token; registering again", { runnerId: stored.runnerId });
        removeRunner(config.stateFile);
      }
    }
    if (!config.registrationToken) {
      throw new ConfigError("SFP_REGISTRATION_TOKEN", `is required: ${config.stateFile} holds no runner token for this edge`);
    }
    const registered = await this.api.register(
      {
        registrationToken: config.registrationToken,
        name: config.name,
        labels: config.labels,
        slots: config.slots,
        ephemeral: config.ephemeral,
        version: config.version,
      },
      this.stopPolling.signal,
    );
    saveRunner(config.stateFile, { edgeUrl: config.edgeUrl, ...registered });
    this.adopt(registered.runnerId, registered.settings);
    this.project = registered.project;
    this.log.info("registered", { runnerId: registered.runnerId, project: registered.project, pool: registered.pool, settings: registered.settings });
  }

  private adopt(runnerId: string, settings: RunnerSettings): void {
    this.runnerId = runnerId;
    this.settings = settings;
  }

  private heartbeatBody(state: RunnerHeartbeatBody["state"]): RunnerHeartbeatBody {
    const jobs = [...this.jobs.values()].flatMap((job) => (job.lastSample ? [{ taskId: job.taskId, ...job.lastSample }] : []));
    return { state, freeSlots: this.freeSlots(), activeTasks: this.activeTasks, resources: this.resources.sample(jobs) };
  }

  private async heartbeatLoop(): Promise<void> {
    const every = (this.settings?.heartbeatSeconds ?? 30) * 1000;
    await this.beat();
    while (!this.stopHeartbeats.signal.aborted) {
      await sleep(every, this.stopHeartbeats.signal);
      if (this.stopHeartbeats.signal.aborted) return;
      await this.beat();
    }
  }

  private async beat(): Promise<void> {
    const state = this.state;
    if (state === "starting" || state === "stopped") return;
    try {
      this.handleActions(await this.api.heartbeat(this.heartbeatBody(state)));
    } catch (err) {
      if (tokenRefused(err)) this.revoked();
      else this.log.warn("runner heartbeat failed", { error: err });
    }
  }

  private handleActions(actions: RunnerAction[]): void {
    for (const action of actions) {
      if (action.type === "drain") this.drain("the edge asked this runner to drain");
      else this.jobs.get(action.taskId)?.stop("canceled", "the task was canceled");
    }
  }

  /** The runner token no longer works (revoked, or the runner was deleted): finish what runs, exit 1. */
  private revoked(): void {
    if (this.draining) return;
    this.exitCode = 1;
    this.log.error("the edge refused the runner token; draining and exiting", { runnerId: this.runnerId });
    this.drain("runner token refused");
  }

  private async pollLoop(): Promise<void> {
    const waitSeconds = Math.min(MAX_RUNNER_POLL_SECONDS, this.settings?.pollWaitSeconds ?? MAX_RUNNER_POLL_SECONDS);
    let failures = 0;
    while (!this.draining && !this.hasItsJob) {
      const free = this.freeSlots();
      if (free === 0) {
        await once(this.changes, "change");
        continue;
      }
      const startedAt = Date.now();
      try {
        const assignments = await this.api.poll(free, waitSeconds, this.stopPolling.signal);
        failures = 0;
        // Drain began while the answer was on its way: those assignments go back to the queue.
        if (this.draining) return;
        if (assignments.length > free) this.log.warn("the edge offered more assignments than free slots", { offered: assignments.length, free });
        for (const assignment of assignments.slice(0, free)) void this.take(assignment);
        // An edge that answers an empty poll at once must not turn this loop into a busy loop.
        const elapsed = Date.now() - startedAt;
        if (assignments.length === 0 && elapsed < TIMING.emptyPollMinMs) await sleep(TIMING.emptyPollMinMs - elapsed, this.wakeUp.signal);
      } catch (err) {
        if (this.stopPolling.signal.aborted) return;
        if (tokenRefused(err)) {
          this.revoked();
          return;
        }
        failures++;
        const wait = retryDelayMs(RETRY.poll, failures, err);
        this.log.warn("poll failed", { error: err, retryInMs: wait });
        await sleep(wait, this.wakeUp.signal);
      }
    }
  }

  private async take(assignment: Assignment): Promise<void> {
    const { taskId, assignmentId } = assignment;
    this.accepting++;
    if (this.config.ephemeral) this.tookOne = true;
    let job: Job | undefined;
    try {
      const accepted = await this.api.accept(taskId, assignmentId);
      job = new Job(accepted, {
        api: this.api,
        config: this.config,
        leaseSeconds: this.settings?.leaseSeconds ?? 60,
        log: this.log,
        metrics: this.deps.metrics,
        credentials: this.deps.credentials,
        env: this.deps.env ?? process.env,
        takeSpare: (id) => this.spares.take(id),
      });
      this.jobs.set(taskId, job);
      if (this.config.ephemeral) this.hasItsJob = true;
    } catch (err) {
      // Expired, taken or canceled meanwhile: the ordinary end of an offer, not a fault.
      const level = err instanceof EdgeError && ASSIGNMENT_ENDED_CODES.has(err.code) ? "info" : "warn";
      this.log[level]("assignment not accepted", { taskId, error: err });
      if (this.config.ephemeral) this.tookOne = false;
    } finally {
      this.accepting--;
      this.changes.emit("change");
    }
    if (!job) return;
    try {
      await job.run();
    } catch (err) {
      this.log.error("job failed unexpectedly", { taskId, error: err });
    } finally {
      this.jobs.delete(taskId);
      this.changes.emit("change");
    }
  }

  private async deregister(): Promise<void> {
    try {
      await this.api.deregister();
      removeRunner(this.config.stateFile);
      this.log.info("deregistered", { runnerId: this.runnerId });
    } catch (err) {
      this.log.warn("could not deregister", { error: err });
    }
  }
}

const ASSIGNMENT_ENDED_CODES: ReadonlySet<ErrorCode | "network"> = new Set(["assignment_expired", "conflict", "already_finished", "gone"]);

/** The edge no longer takes this runner token (revoked, deleted, or of no use here). */
function tokenRefused(err: unknown): boolean {
  return err instanceof EdgeError && (err.code === "unauthenticated" || err.code === "forbidden");
}
