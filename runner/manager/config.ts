// Every setting of the runner manager, read once from the environment, and every timing and retry
// policy it uses, named here so that an operator (and a reviewer) finds them in one place.
import { homedir, hostname } from "node:os";
import { resolve } from "node:path";
import { exponential, ONCE, type RetryPolicy } from "../../protocol/retry.ts";
import type { ZipFetchPolicy } from "../salesforce/zip-fetch.ts";
import type { LogLevel } from "./log.ts";

export interface ManagerConfig {
  /** Base URL of the edge, e.g. https://sfp-edge.example.workers.dev. */
  edgeUrl: string;
  /** One-time registration token; unused when the state file already holds a runner token. */
  registrationToken?: string;
  name: string;
  labels: string[];
  slots: number;
  /** Runs exactly one job, deregisters and exits. */
  ephemeral: boolean;
  /** Where the runner token is kept (mode 0600) so that a restart reuses the registration. */
  stateFile: string;
  listen: { host: string; port: number };
  /** The shared secret the edge signs wakes with (and Caddy checks); wakes are refused without it. */
  originToken?: string;
  /** The worker program forked for each job. */
  workerEntry: string;
  /** After the IPC cancel, how long a worker has to stop by itself before it gets SIGTERM. */
  cancelGraceMs: number;
  /** After SIGTERM, how long a worker has before it gets SIGKILL. */
  killGraceMs: number;
  /** Extra environment variable names handed to workers (never SFP_*, INFISICAL_*, SUPABASE_*). */
  workerEnvPassthrough: string[];
  logLevel: LogLevel;
  version: string;
  /** Deploys from a repository: the host's checkout cache, loopback development, hosts allowed on private addresses. */
  source: { cacheDir: string; allowLocalHttp: boolean; allowedHosts: string[] };
  /** Where workers may download a deploy's `zipUrl` from (strict when absent). */
  zipPolicy?: ZipFetchPolicy;
}

export const MANAGER_VERSION = "0.1.0";
export const DEFAULT_LISTEN = "127.0.0.1:8790";
export const DEFAULT_WORKER_ENTRY = resolve(import.meta.dirname, "..", "worker", "main.ts");
export const DEFAULT_STATE_FILE = resolve(homedir(), ".sfp-edge", "runner-state.json");
export const DEFAULT_SOURCE_CACHE_DIR = resolve(homedir(), ".sfp-edge", "source-cache");
export const DEFAULT_CANCEL_GRACE_SECONDS = 5;
export const DEFAULT_KILL_GRACE_SECONDS = 10;
export const MAX_SLOTS = 64;

/** Timings that are not the edge's to choose (the edge sends pollWait/heartbeat/lease in `settings`). */
export const TIMING = {
  /** A worker's burst of events is collected this long into one POST. */
  eventFlushMs: 200,
  /** A forked worker must say `ready` within this, or it is killed and the job fails (a spare: replaced). */
  workerReadyTimeoutMs: 30_000,
  /**
   * A warm spare (a worker forked and `ready` before any job) unused this long is killed and replaced,
   * so that no process waits indefinitely. The worker's own start timeout is longer (worker/main.ts).
   */
  spareMaxIdleMs: 10 * 60_000,
  /**
   * At most this many warm spares, whatever the slots: each idle worker holds ~130 MiB here, and jobs
   * rarely start more than a couple at once; a job that finds none forks on demand as before.
   */
  maxSpares: 2,
  /** A worker that said `done` but lingers is killed after this. */
  workerExitAfterDoneMs: 5_000,
  /** Any edge call but a long poll is abandoned after this (and retried by its policy). */
  requestTimeoutMs: 30_000,
  /** Polls that come back empty are at least this far apart (a wake cuts the wait short). */
  emptyPollMinMs: 1_000,
  /** A long poll is abandoned this long after the wait it asked for. */
  pollSlackMs: 10_000,
  /** A wake is refused when its timestamp is further than this from our clock. */
  wakeMaxSkewSeconds: 300,
  wakeMaxBodyBytes: 64 * 1024,
} as const;

/**
 * Named retry policies, one per edge call (protocol/retry.ts: only the codes worth another try are
 * retried, and a Retry-After is honoured).
 */
export const RETRY = {
  /** At start-up the edge may still be coming up: keep trying for a few minutes. */
  register: { attempts: 12, backoff: exponential(1_000, 30_000) },
  /** Backoff of the poll loop after consecutive failures; it never gives up. */
  poll: { attempts: Infinity, backoff: exponential(1_000, 30_000) },
  /** The next beat is the retry. */
  runnerHeartbeat: ONCE,
  /** Must land before the assignment's acceptBy (≈15 s); the same assignmentId gets the same answer. */
  accept: { attempts: 6, backoff: exponential(250, 2_000) },
  /** A few quick tries per renewal tick; the local lease expiry is the real limit. */
  jobHeartbeat: { attempts: 3, backoff: exponential(250, 1_000) },
  /** Events are resent until acknowledged (idempotent by seq) or the lease is gone. */
  events: { attempts: Infinity, backoff: exponential(250, 5_000) },
  /** The same finish again gets the same answer; bounded by the lease as well. */
  finish: { attempts: 10, backoff: exponential(500, 10_000) },
  /** An artifact upload (replaced by name, so a retry is safe); the lease bounds it too. */
  artifact: { attempts: 3, backoff: exponential(1_000, 10_000) },
  /** Best effort on the way out. */
  deregister: { attempts: 3, backoff: exponential(500, 2_000) },
  /** Re-forking spares that keep dying (or never say `ready`): a broken worker must not become a fork loop. */
  spare: { attempts: Infinity, backoff: exponential(1_000, 60_000) },
  /** Checking a stored runner token at start-up. */
  verifyToken: { attempts: 3, backoff: exponential(500, 2_000) },
} as const satisfies Record<string, RetryPolicy>;

export class ConfigError extends Error {
  readonly variable: string;
  constructor(variable: string, message: string) {
    super(`${variable}: ${message}`);
    this.name = "ConfigError";
    this.variable = variable;
  }
}

type Env = Record<string, string | undefined>;

export function configFromEnv(env: Env): ManagerConfig {
  const edgeUrl = required(env, "SFP_EDGE_URL");
  if (!/^https?:\/\/[^/]+/.test(edgeUrl)) throw new ConfigError("SFP_EDGE_URL", "must be an http(s) URL");
  const ephemeral = bool(env, "SFP_RUNNER_EPHEMERAL", false);
  const slots = ephemeral ? 1 : int(env, "SFP_RUNNER_SLOTS", 1, 1, MAX_SLOTS);
  const passthrough = list(env.SFP_WORKER_ENV_PASSTHROUGH);
  for (const name of passthrough) {
    if (/^(SFP|INFISICAL|SUPABASE)_/i.test(name)) {
      throw new ConfigError("SFP_WORKER_ENV_PASSTHROUGH", `${name} may not be handed to a worker`);
    }
  }
  const logLevel = env.SFP_LOG_LEVEL ?? "info";
  if (!["debug", "info", "warn", "error"].includes(logLevel)) {
    throw new ConfigError("SFP_LOG_LEVEL", "must be debug, info, warn or error");
  }
  return {
    edgeUrl: edgeUrl.replace(/\/+$/, ""),
    registrationToken: env.SFP_REGISTRATION_TOKEN || undefined,
    name: env.SFP_RUNNER_NAME || hostname(),
    labels: list(env.SFP_RUNNER_LABELS),
    slots,
    ephemeral,
    stateFile: resolve(env.SFP_RUNNER_STATE_FILE || DEFAULT_STATE_FILE),
    listen: hostPort(env.SFP_RUNNER_LISTEN || DEFAULT_LISTEN),
    originToken: env.SFP_ORIGIN_TOKEN || undefined,
    workerEntry: resolve(env.SFP_WORKER_ENTRY || DEFAULT_WORKER_ENTRY),
    cancelGraceMs: seconds(env, "SFP_TASK_CANCEL_GRACE_SECONDS", DEFAULT_CANCEL_GRACE_SECONDS),
    killGraceMs: seconds(env, "SFP_TASK_KILL_GRACE_SECONDS", DEFAULT_KILL_GRACE_SECONDS),
    workerEnvPassthrough: passthrough,
    logLevel: logLevel as LogLevel,
    version: MANAGER_VERSION,
    source: {
      cacheDir: resolve(env.SFP_SOURCE_CACHE_DIR || DEFAULT_SOURCE_CACHE_DIR),
      allowLocalHttp: bool(env, "SFP_SOURCE_ALLOW_LOCAL_HTTP", false),
      allowedHosts: hostList(env, "SFP_SOURCE_ALLOWED_HOSTS"),
    },
    zipPolicy: { allowLoopbackHttp: bool(env, "SFP_ALLOW_LOOPBACK_HTTP", false), allowedHosts: hostList(env, "SFP_ZIP_ALLOWED_HOSTS") },
  };
}

function required(env: Env, name: string): string {
  const value = env[name];
  if (!value) throw new ConfigError(name, "is required");
  return value;
}

function list(value: string | undefined): string[] {
  return (value ?? "")
    .split(",")
    .map((s) => s.trim())
    .filter(Boolean);
}

/** Host names, or `*.suffix` wildcards, comma-separated. */
function hostList(env: Env, name: string): string[] {
  const hosts = list(env[name]).map((h) => h.toLowerCase());
  for (const host of hosts) {
    if (!/^(\*\.)?[a-z0-9]([a-z0-9-]*[a-z0-9])?(\.[a-z0-9]([a-z0-9-]*[a-z0-9])?)*$/.test(host)) {
      throw new ConfigError(name, `${host} is not a host name or *.domain`);
    }
  }
  return hosts;
}

function bool(env: Env, name: string, fallback: boolean): boolean {
  const value = env[name]?.trim().toLowerCase();
  if (!value) return fallback;
  if (["1", "true", "yes", "on"].includes(value)) return true;
  if (["0", "false", "no", "off"].includes(value)) return false;
  throw new ConfigError(name, "must be true or false");
}

function int(env: Env, name: string, fallback: number, min: number, max: number): number {
  const value = env[name];
  if (!value) return fallback;
  const n = Number(value);
  if (!Number.isInteger(n) || n < min || n > max) throw new ConfigError(name, `must be an integer from ${min} to ${max}`);
  return n;
}

/** Seconds, fractions allowed (tests use short grace periods); returned in milliseconds. */
function seconds(env: Env, name: string, fallback: number): number {
  const value = env[name];
  if (!value) return fallback * 1000;
  const n = Number(value);
  if (!Number.isFinite(n) || n < 0 || n > 3600) throw new ConfigError(name, "must be a number of seconds from 0 to 3600");
  return Math.round(n * 1000);
}

function hostPort(value: string): { host: string; port: number } {
  const m = /^(?:\[([^\]]+)\]|([^:]+)):(\d+)$/.exec(value.trim());
  const port = m ? Number(m[3]) : NaN;
  if (!m || port < 0 || port > 65535) throw new ConfigError("SFP_RUNNER_LISTEN", "must be host:port, e.g. 127.0.0.1:8790");
  return { host: m[1] ?? m[2], port };
}
