// `node runner/main.ts` as a real child process for system tests: started with the environment an
// operator would give it, its JSON log lines collected, its worker processes found through /proc, and
// every manager (and any worker it left behind) killed in teardown.
import { spawn, type ChildProcess } from "node:child_process";
import { readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { createInterface } from "node:readline";
import { REPO_ROOT } from "./edge-process.ts";

export const MANAGER_MAIN = join(REPO_ROOT, "runner", "main.ts");

export interface ManagerOptions {
  /** The edge (or a recorder in front of it). */
  edgeUrl: string;
  registrationToken: string;
  name: string;
  /** The manager's own directory: HOME, TMPDIR and the state file live here. */
  dir: string;
  credentialsFile: string;
  credentialsKey: string;
  /** host:port of /healthz and /v1/wake; default a free loopback port. */
  listen?: string;
  originToken?: string;
  /** Anything else, e.g. { SFP_TASK_CANCEL_GRACE_SECONDS: "1" }. */
  env?: Record<string, string>;
}

export type LogRecord = Record<string, unknown> & { msg?: string; level?: string; time?: string };

export interface ManagerProcess {
  name: string;
  pid: number;
  child: ChildProcess;
  stateFile: string;
  records: LogRecord[];
  /** Everything written on stdout and stderr, as written. */
  output(): string;
  exit: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  alive(): boolean;
  /** Resolves with the first log record (already written or to come) that matches. */
  waitForLog(match: string | ((r: LogRecord) => boolean), timeoutMs?: number): Promise<LogRecord>;
  /** Pids of the manager's live child processes (its workers), read from /proc. */
  childPids(): number[];
}

const started = new Set<ManagerProcess>();
/** Every worker pid any manager logged, so that teardown can kill one a killed manager orphaned. */
const workerPids = new Set<number>();

export function startManager(opts: ManagerOptions): ManagerProcess {
  const stateFile = join(opts.dir, "runner-state.json");
  const child = spawn(process.execPath, [MANAGER_MAIN], {
    cwd: REPO_ROOT,
    env: {
      PATH: process.env.PATH,
      HOME: opts.dir,
      TMPDIR: opts.dir,
      SFP_EDGE_URL: opts.edgeUrl,
      SFP_REGISTRATION_TOKEN: opts.registrationToken,
      SFP_RUNNER_NAME: opts.name,
      SFP_RUNNER_STATE_FILE: stateFile,
      SFP_RUNNER_LISTEN: opts.listen ?? "127.0.0.1:0",
      SFP_CREDENTIALS: "local",
      SFP_LOCAL_CREDENTIALS_FILE: opts.credentialsFile,
      SFP_LOCAL_CREDENTIALS_KEY: opts.credentialsKey,
      ...(opts.originToken ? { SFP_ORIGIN_TOKEN: opts.originToken } : {}),
      ...opts.env,
    },
    stdio: ["ignore", "pipe", "pipe"],
  });
  if (child.pid === undefined) throw new Error("the manager process did not start");
  const records: LogRecord[] = [];
  const chunks: string[] = [];
  const waiters = new Set<{ match: (r: LogRecord) => boolean; resolve: (r: LogRecord) => void }>();
  createInterface({ input: child.stdout!, crlfDelay: Infinity }).on("line", (line) => {
    chunks.push(`${line}\n`);
    let record: LogRecord;
    try {
      record = JSON.parse(line) as LogRecord;
    } catch {
      return;
    }
    records.push(record);
    if ((record.msg === "worker spawned" || record.msg === "spare forked") && typeof record.pid === "number") workerPids.add(record.pid);
    for (const w of [...waiters]) {
      if (w.match(record)) {
        waiters.delete(w);
        w.resolve(record);
      }
    }
  });
  child.stderr!.on("data", (c: Buffer) => chunks.push(c.toString()));
  const exit = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) =>
    child.once("exit", (code, signal) => resolve({ code, signal })),
  );
  const pid = child.pid;
  const m: ManagerProcess = {
    name: opts.name,
    pid,
    child,
    stateFile,
    records,
    output: () => chunks.join(""),
    exit,
    alive: () => child.exitCode === null && child.signalCode === null,
    waitForLog(match, timeoutMs = 30_000) {
      const test = typeof match === "string" ? (r: LogRecord) => r.msg === match : match;
      const seen = records.find(test);
      if (seen) return Promise.resolve(seen);
      return new Promise((resolve, reject) => {
        const waiter = {
          match: test,
          resolve: (r: LogRecord) => {
            clearTimeout(timer);
            resolve(r);
          },
        };
        const timer = setTimeout(() => {
          waiters.delete(waiter);
          const what = typeof match === "string" ? `"${match}"` : "the awaited";
          reject(new Error(`manager ${opts.name}: no ${what} log line within ${timeoutMs} ms; last output:\n${m.output().slice(-3000)}`));
        }, timeoutMs);
        waiters.add(waiter);
      });
    },
    childPids: () => childrenOf(pid),
  };
  started.add(m);
  return m;
}

/** SIGKILLs every manager still running and every worker a manager spawned that is still alive. */
export async function killAllManagers(): Promise<void> {
  for (const m of started) if (m.alive()) m.child.kill("SIGKILL");
  await Promise.all([...started].map((m) => m.exit));
  started.clear();
  for (const pid of workerPids) {
    if (processAlive(pid)) {
      try {
        process.kill(pid, "SIGKILL");
      } catch {
        // already gone
      }
    }
  }
  workerPids.clear();
}

/** The fields of /proc/<pid>/stat after the command name (which may hold spaces and parentheses). */
function statFields(pid: number): string[] | null {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
    return stat.slice(stat.lastIndexOf(")") + 2).split(" ");
  } catch {
    return null;
  }
}

/** True while the process exists and is not a zombie waiting to be reaped. */
export function processAlive(pid: number): boolean {
  const fields = statFields(pid);
  return fields !== null && fields[0] !== "Z" && fields[0] !== "X";
}

/** Live children of `parent`, from /proc/<pid>/stat's ppid field. */
export function childrenOf(parent: number): number[] {
  const out: number[] = [];
  for (const name of readdirSync("/proc")) {
    if (!/^\d+$/.test(name)) continue;
    const fields = statFields(Number(name));
    if (fields && fields[0] !== "Z" && Number(fields[1]) === parent) out.push(Number(name));
  }
  return out;
}

/** A process's argv and environment as the kernel shows them to anyone who may read /proc. */
export function procView(pid: number): { cmdline: string; environ: string } {
  return {
    cmdline: readFileSync(`/proc/${pid}/cmdline`, "utf8").split("\0").join(" "),
    environ: readFileSync(`/proc/${pid}/environ`, "utf8").split("\0").join("\n"),
  };
}

/** Polls `check` until it answers something truthy; fails naming `what` after `timeoutMs`. */
export async function waitFor<T>(check: () => T | Promise<T>, timeoutMs: number, what: string): Promise<NonNullable<T>> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await check();
    if (value) return value as NonNullable<T>;
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}
