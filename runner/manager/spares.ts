// Warm spares: worker processes forked and `ready` before any job, so that an accepted job starts its
// operation without waiting for a fork and its module loading (bench B5). A spare is still one fresh
// process per job, never reused: it has had no job, holds no secret (its environment is filtered like
// any worker's, its argv is empty, an ask for credentials is refused, and only the job that takes it
// sends `start` and then answers its ask with that job's org), and it is killed when the manager
// drains, when it has idled too long, or when it misbehaves.
import type { ChildProcess } from "node:child_process";
import { RETRY, TIMING, type ManagerConfig } from "./config.ts";
import { createMasker } from "../mask.ts";
import { backoffMs } from "../../protocol/retry.ts";
import type { Logger } from "./log.ts";
import { exited, relayOutput, spawnWorker, workerEnv, type OutputTarget } from "./worker-process.ts";

/** A spare handed to a job: the job owns the process from here on. */
export interface SpareWorker {
  child: ChildProcess;
  /** It already said `ready`: the job sends `start` at once (else it waits for `ready`, as after a fork). */
  ready: boolean;
  /** Where its output lines go; the job points it at its own logger. */
  output: OutputTarget;
}

export interface SparePoolDeps {
  config: Pick<ManagerConfig, "workerEntry" | "workerEnvPassthrough">;
  /** The manager's environment, filtered for each spare exactly as for a worker forked for a job. */
  env: NodeJS.ProcessEnv;
  log: Logger;
  /** How many spares the manager wants now (0 once draining). */
  wanted: () => number;
  /** TIMING.spareMaxIdleMs unless a test shortens it. */
  maxIdleMs?: number;
}

interface Spare extends SpareWorker {
  forkedAt: number;
  readyAt?: number;
  timer?: NodeJS.Timeout;
  /** Removes the pool's listeners and timer (on hand-over, retirement, death or close). */
  detach: () => void;
}

export class SparePool {
  private readonly deps: SparePoolDeps;
  private readonly log: Logger;
  private readonly spares = new Set<Spare>();
  private readonly maxIdleMs: number;
  /** Spares that died or never became ready since one last lived a normal life (taken or retired). */
  private failures = 0;
  private refillTimer?: NodeJS.Timeout;
  private closing?: Promise<void>;

  constructor(deps: SparePoolDeps) {
    this.deps = deps;
    this.log = deps.log.child({ component: "spares" });
    this.maxIdleMs = deps.maxIdleMs ?? TIMING.spareMaxIdleMs;
  }

  /** The pids of the spares held now (ready or still starting). */
  pids(): number[] {
    return [...this.spares].flatMap((s) => (s.child.pid === undefined ? [] : [s.child.pid]));
  }

  /**
   * Hands a spare to the job `taskId`: a ready one if any, else one still starting; undefined when
   * there is none (the job forks its own). The next spare is forked in the background.
   */
  take(taskId: string): SpareWorker | undefined {
    if (this.closing) return undefined;
    const alive = [...this.spares].filter((s) => s.child.connected && s.child.exitCode === null && s.child.signalCode === null);
    const spare = alive.find((s) => s.ready) ?? alive[0];
    if (!spare) return undefined;
    this.remove(spare);
    this.failures = 0;
    this.log.info("spare taken", { taskId, pid: spare.child.pid, ready: spare.ready, idleMs: spare.readyAt ? Date.now() - spare.readyAt : undefined });
    this.refill();
    return { child: spare.child, ready: spare.ready, output: spare.output };
  }

  /** Forks spares until there are as many as wanted, unless a backoff after failures is pending. */
  refill(): void {
    if (this.closing || this.refillTimer) return;
    const missing = this.deps.wanted() - this.spares.size;
    for (let i = 0; i < missing; i++) this.fork();
  }

  /** Kills every spare and forks no more (drain, shutdown); resolves once they have exited. */
  close(): Promise<void> {
    this.closing ??= this.killAll();
    return this.closing;
  }

  private async killAll(): Promise<void> {
    clearTimeout(this.refillTimer);
    this.refillTimer = undefined;
    const children = [...this.spares].map((s) => s.child);
    for (const spare of [...this.spares]) this.remove(spare);
    if (children.length > 0) this.log.info("killing spares", { pids: children.map((c) => c.pid) });
    // A spare has nothing to finish or clean up: it is killed outright.
    for (const child of children) kill(child);
    await Promise.all(children.filter((c) => c.pid !== undefined).map((c) => exited(c)));
  }

  private fork(): void {
    const output: OutputTarget = { log: this.log, masker: createMasker() };
    const child = spawnWorker({ entry: this.deps.config.workerEntry, env: workerEnv(this.deps.env, this.deps.config.workerEnvPassthrough) });
    relayOutput(child, output);
    const spare: Spare = { child, ready: false, output, forkedAt: Date.now(), detach: () => {} };
    const onMessage = (raw: unknown) => this.onMessage(spare, raw);
    const onExit = (code: number | null, signal: NodeJS.Signals | null) => this.onDied(spare, `exited with code ${code} / signal ${signal}`);
    const onError = (err: Error) => {
      this.log.error("spare process error", { pid: child.pid, error: err });
      if (child.pid === undefined) this.onDied(spare, "could not be forked");
    };
    child.on("message", onMessage);
    child.once("exit", onExit);
    child.on("error", onError);
    spare.detach = () => {
      clearTimeout(spare.timer);
      child.off("message", onMessage);
      child.off("exit", onExit);
      child.off("error", onError);
    };
    spare.timer = setTimeout(() => this.notReady(spare), TIMING.workerReadyTimeoutMs).unref();
    this.spares.add(spare);
    this.log.info("spare forked", { pid: child.pid });
  }

  private onMessage(spare: Spare, raw: unknown): void {
    const type = raw && typeof raw === "object" && "type" in raw ? raw.type : undefined;
    if (type === "auth") {
      // A spare has no task, so no org: its ask is refused like any ask outside a worker's own task.
      this.log.warn("refused a spare's credentials request", { pid: spare.child.pid });
      if (spare.child.connected)
        spare.child.send({ type: "auth", error: { code: "credentials_refused", message: "credentials refused: a spare has no task" } });
      return;
    }
    if (type !== "ready" || spare.ready) {
      this.log.warn("ignored a message from a spare", { pid: spare.child.pid, type: String(type) });
      return;
    }
    spare.ready = true;
    spare.readyAt = Date.now();
    clearTimeout(spare.timer);
    spare.timer = setTimeout(() => this.retire(spare), this.maxIdleMs).unref();
    this.log.info("spare ready", { pid: spare.child.pid, ms: spare.readyAt - spare.forkedAt });
  }

  /** Never said `ready` within the worker-readiness timeout: killed, and replaced after a backoff. */
  private notReady(spare: Spare): void {
    this.log.error("spare did not become ready", { pid: spare.child.pid, timeoutMs: TIMING.workerReadyTimeoutMs });
    kill(spare.child);
  }

  /** Idle for the whole bound: killed and replaced at once (a normal end, not a failure). */
  private retire(spare: Spare): void {
    if (!this.spares.has(spare)) return;
    this.remove(spare);
    this.failures = 0;
    this.log.info("spare retired after idling", { pid: spare.child.pid, idleMs: this.maxIdleMs });
    kill(spare.child);
    this.refill();
  }

  private onDied(spare: Spare, how: string): void {
    if (!this.spares.has(spare)) return;
    this.remove(spare);
    this.failures++;
    // The first death is replaced at once; spares that keep dying are re-forked ever more slowly.
    const retryInMs = this.failures === 1 ? 0 : backoffMs(RETRY.spare.backoff, this.failures - 1);
    this.log.warn("spare died; replacing it", { pid: spare.child.pid, how, ready: spare.ready, failures: this.failures, retryInMs });
    if (this.closing || this.refillTimer) return;
    this.refillTimer = setTimeout(() => {
      this.refillTimer = undefined;
      this.refill();
    }, retryInMs).unref();
  }

  private remove(spare: Spare): void {
    spare.detach();
    this.spares.delete(spare);
  }
}

function kill(child: ChildProcess): void {
  if (child.exitCode === null && child.signalCode === null) child.kill("SIGKILL");
}
