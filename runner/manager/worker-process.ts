// Forking one worker process per job. The worker gets its job and credential settings over IPC only:
// its environment is built from an allowlist, so no token, key or store setting of the manager leaks
// into it (nor into anything it spawns), and its argv is empty.
import { fork, type ChildProcess } from "node:child_process";
import { createInterface } from "node:readline";
import { createLineMasker } from "../mask-lines.ts";
import type { Masker } from "../mask.ts";
import type { Logger, LogLevel } from "./log.ts";

/** Plain process settings a Node program needs; nothing here can hold a secret. */
const ALLOWED_ENV = new Set([
  "PATH",
  "HOME",
  "USER",
  "LOGNAME",
  "SHELL",
  "LANG",
  "LANGUAGE",
  "TZ",
  "TMPDIR",
  "TMP",
  "TEMP",
  "NODE_ENV",
  "NODE_EXTRA_CA_CERTS",
  "SSL_CERT_FILE",
  "SSL_CERT_DIR",
]);
const FORBIDDEN_ENV = /^(SFP|INFISICAL|SUPABASE)_/i;
const SECRET_LOOKING_ENV = /SECRET|TOKEN|PASSWORD|PASSWD|CREDENTIAL|PRIVATE|API_?KEY|AUTH|COOKIE|SESSION/i;

/** The environment a worker starts with: the allowlist, LC_*, and the operator's passthrough names. */
export function workerEnv(env: NodeJS.ProcessEnv, passthrough: readonly string[] = []): NodeJS.ProcessEnv {
  const out: NodeJS.ProcessEnv = {};
  for (const [name, value] of Object.entries(env)) {
    if (value === undefined || FORBIDDEN_ENV.test(name)) continue;
    const allowed = ALLOWED_ENV.has(name) || name.startsWith("LC_") || passthrough.includes(name);
    if (allowed && !(SECRET_LOOKING_ENV.test(name) && !passthrough.includes(name))) out[name] = value;
  }
  return out;
}

export interface WorkerSpawnOptions {
  entry: string;
  env: NodeJS.ProcessEnv;
}

/**
 * Forks `entry` with an IPC channel and piped stdout/stderr (the manager relays them as log lines).
 * `execArgv` is emptied so that no inspector or loader flag of the manager carries over.
 */
export function spawnWorker(opts: WorkerSpawnOptions): ChildProcess {
  return fork(opts.entry, [], {
    env: opts.env,
    execArgv: [],
    stdio: ["ignore", "pipe", "pipe", "ipc"],
    serialization: "json",
  });
}

/** Resolves when the child has exited (immediately if it already has). */
export function exited(child: ChildProcess): Promise<{ code: number | null; signal: NodeJS.Signals | null }> {
  if (child.exitCode !== null || child.signalCode !== null) {
    return Promise.resolve({ code: child.exitCode, signal: child.signalCode });
  }
  return new Promise((resolve) => child.once("exit", (code, signal) => resolve({ code, signal })));
}

/** Where a worker's output lines go; a spare's is pointed at its job's logger when a job takes it. */
export interface OutputTarget {
  log: Logger;
  taskId?: string;
  /** The secrets of the worker's job (its org's, and tokens it learned): masked in every relayed line. */
  masker: Masker;
}

/** Held output lines are relayed after this long without a new one. */
export const OUTPUT_HOLD_MS = 100;

/**
 * The worker's stdout/stderr become the manager's log lines (JSON lines keep their level and fields),
 * masked for the job's secrets first, each stream as one stream of lines (a secret split over two
 * lines is masked too: mask-lines.ts holds a line back until that is settled).
 */
export function relayOutput(child: ChildProcess, target: OutputTarget): void {
  for (const [stream, fallback] of [
    [child.stdout, "info"],
    [child.stderr, "warn"],
  ] as const) {
    if (!stream) continue;
    const lines = createLineMasker(target.masker);
    let timer: NodeJS.Timeout | undefined;
    const relay = (masked: string[]) => {
      for (const line of masked) relayLine(line, fallback, target);
    };
    const flush = () => {
      clearTimeout(timer);
      timer = undefined;
      relay(lines.flush());
    };
    const reader = createInterface({ input: stream, crlfDelay: Infinity });
    reader.on("line", (line) => {
      relay(lines.push([line]));
      clearTimeout(timer);
      timer = lines.held > 0 ? setTimeout(flush, OUTPUT_HOLD_MS) : undefined;
    });
    reader.on("close", flush);
  }
}

function relayLine(line: string, fallback: LogLevel, target: OutputTarget): void {
  let fields: Record<string, unknown> = { line };
  let level: LogLevel = fallback;
  try {
    const parsed: unknown = JSON.parse(line);
    if (parsed && typeof parsed === "object" && !Array.isArray(parsed)) {
      fields = { ...parsed };
      if (typeof fields.level === "string" && ["debug", "info", "warn", "error"].includes(fields.level)) {
        level = fields.level as LogLevel;
      }
    }
  } catch {
    // not JSON: relayed as a plain line
  }
  const msg = typeof fields.msg === "string" ? fields.msg : "worker output";
  target.log[level](msg, { ...fields, source: "worker", ...(target.taskId ? { taskId: target.taskId } : {}) });
}
