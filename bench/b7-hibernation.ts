// B7: what hibernation costs and saves. 10,000 task sockets over 1,000 tasks stay idle for 60 s:
// workerd's resident memory and CPU while idle (the actors should be evicted, the sockets kept).
// Then every client drops, each task changes while they are away (canceled), and all 10,000
// reconnect at once with ?after=<the last seq they had>: the time until each has caught up with
// the version its new hello announced, and any event missed or repeated.
//
// The edge runs with bench/b7-worker/worker.ts, whose TaskActor logs each construction: an actor
// constructed again when its sockets close after the idle minute was evicted while they hibernated.
import { fork } from "node:child_process";
import { copyFileSync, readdirSync, readFileSync, readlinkSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { apiCall, nextMessage as next, settle, type Row } from "./lib/common.ts";
import { cpuSeconds, REPO, startEdge } from "./lib/edge.ts";
import { percentile } from "./lib/wrk.ts";

export interface HibernationOptions {
  tasks: number;
  perTask: number;
  idleSeconds: number;
}

/** What bench/b7-worker/worker.ts logs on each TaskActor construction. */
const CONSTRUCTED = "b7: TaskActor constructed";
/** Descriptors workerd holds per open connection: the socket and a dup watching for hang-ups. */
const FDS_PER_CONNECTION = 2;
/** Descriptors a running actor holds: its SQLite database, WAL and shared-memory files. */
const FDS_PER_ACTOR = 3;
/** Descriptors kept free beyond sockets and databases: the API calls' pooled connections, workerd's own. */
const FD_MARGIN = 300;

function rssMiB(pid: number): number {
  const line = readFileSync(`/proc/${pid}/status`, "utf8")
    .split("\n")
    .find((l) => l.startsWith("VmRSS:"));
  return Number(line?.split(/\s+/)[1] ?? NaN) / 1024;
}

/** How many descriptors the process has open. */
function openFds(pid: number): number {
  return readdirSync(`/proc/${pid}/fd`).length;
}

/** How many of them are actors' database files (under the storage folder, `do/`). */
function actorFileFds(pid: number): number {
  let n = 0;
  for (const fd of readdirSync(`/proc/${pid}/fd`)) {
    try {
      if (readlinkSync(`/proc/${pid}/fd/${fd}`).includes("/do/")) n++;
    } catch {
      // closed meanwhile
    }
  }
  return n;
}

/** The process's soft limit on open descriptors. */
function fdLimit(pid: number): number {
  const line = readFileSync(`/proc/${pid}/limits`, "utf8")
    .split("\n")
    .find((l) => l.startsWith("Max open files"));
  const soft = line?.split(/\s{2,}/)[1];
  return soft === "unlimited" ? Number.POSITIVE_INFINITY : Number(soft);
}

/** How many TaskActors have been constructed so far, from workerd's log. */
function constructions(logFile: string): number {
  return readFileSync(logFile, "utf8").split(CONSTRUCTED).length - 1;
}

/** Runs `fn` over `items`, `width` at a time. */
async function inParallel<T, R>(items: T[], width: number, fn: (item: T) => Promise<R>): Promise<R[]> {
  const out: R[] = [];
  for (let i = 0; i < items.length; i += width) out.push(...(await Promise.all(items.slice(i, i + width).map(fn))));
  return out;
}

/** Waits (up to `ms`) until workerd has let go of the dropped connections' descriptors. */
async function fdsBackTo(pid: number, target: number, ms: number): Promise<number> {
  const until = Date.now() + ms;
  while (openFds(pid) > target && Date.now() < until) await new Promise((r) => setTimeout(r, 250));
  return openFds(pid);
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

export async function b7(opts: HibernationOptions): Promise<Row[]> {
  const edge = await startEdge({ entry: join(REPO, "bench", "b7-worker", "worker.ts") });
  const child = fork(join(REPO, "bench", "lib", "ws-idle.ts"), [], { stdio: ["ignore", "inherit", "inherit", "ipc"] });
  try {
    await next(child, (m) => m.up);
    const { project, owner } = await settle(edge.url);
    const ids = Array.from({ length: opts.tasks }, (_, i) => i);
    const taskIds = await inParallel(ids, 8, async () => {
      const { task } = await apiCall(edge.url, "POST", `/v1/projects/${project}/tasks`, owner, { type: "run-tests", org: "demo" });
      return task.id as string;
    });
    // One workerd holds every socket, two descriptors each, and during the reconnect every task's
    // actor runs at once, three each: past its limit an accept() fails and workerd exits. Fewer
    // sockets per task, said in the row, rather than a run that cannot finish.
    const fdsBase = openFds(edge.pid);
    const limit = fdLimit(edge.pid);
    const reserve = fdsBase - actorFileFds(edge.pid) + FDS_PER_ACTOR * opts.tasks + FD_MARGIN;
    const fit = Math.floor((limit - reserve) / FDS_PER_CONNECTION / opts.tasks);
    const perTask = Math.max(1, Math.min(opts.perTask, fit));
    const capped =
      perTask < opts.perTask
        ? ` (capped from ${opts.perTask} per task: workerd's descriptor limit is ${limit}: 2 per connection, ${FDS_PER_ACTOR} per running actor)`
        : "";

    const base = edge.url.replace("http", "ws");
    const rssBefore = rssMiB(edge.pid);
    const built0 = constructions(edge.logFile);
    const connecting = next(child, (m) => (m.connected ? m : undefined)) as Promise<{ connected: number; totalMs: number; retries: number; why: string }>;
    child.send({ cmd: "connect", base, token: owner, taskIds, perTask });
    const connected = await connecting;
    const rssConnected = rssMiB(edge.pid);
    const fdsConnected = openFds(edge.pid);
    const builtConnect = constructions(edge.logFile) - built0;
    const cpu0 = cpuSeconds(edge.pid);
    await sleep(opts.idleSeconds * 1000);
    const idleCpuMs = (cpuSeconds(edge.pid) - cpu0) * 1000;
    const rssIdle = rssMiB(edge.pid);
    const builtIdle = constructions(edge.logFile) - built0 - builtConnect;

    // The closes wake each task's actor: constructed again if it was evicted while idle.
    const built1 = constructions(edge.logFile);
    const dropping = next(child, (m) => m.dropped);
    child.send({ cmd: "drop" });
    await dropping;
    const fdsDropped = await fdsBackTo(edge.pid, fdsBase + FD_MARGIN, 60_000);
    const builtDrop = constructions(edge.logFile) - built1;
    // Every task moves on while its watchers are away.
    await inParallel(taskIds, 8, (id) => apiCall(edge.url, "POST", `/v1/tasks/${id}/cancel`, owner, {}));
    const cpu1 = cpuSeconds(edge.pid);
    const built2 = constructions(edge.logFile);
    const reconnecting = next(child, (m) => (m.connected ? m : undefined)) as Promise<{
      ms: number[];
      gaps: number;
      totalMs: number;
      retries: number;
      why: string;
    }>;
    child.send({ cmd: "reconnect", base, token: owner, taskIds, perTask });
    const back = await reconnecting;
    const reconnectCpuMs = (cpuSeconds(edge.pid) - cpu1) * 1000;
    const builtReconnect = constructions(edge.logFile) - built2;
    const sockets = connected.connected;
    const sorted = back.ms.sort((a, b) => a - b);
    const retried = (n: number, why: string) => `${n} sockets retried${n ? `: ${why}` : ""}`;
    return [
      {
        id: "B7",
        name: `idle: ${sockets.toLocaleString("en-US")} task sockets over ${opts.tasks.toLocaleString("en-US")} tasks for ${opts.idleSeconds} s${capped}`,
        check:
          `workerd RSS ${rssBefore.toFixed(0)} MiB before, ${rssConnected.toFixed(0)} MiB connected, ${rssIdle.toFixed(0)} MiB after idling; ` +
          `CPU while idle ${idleCpuMs.toFixed(0)} ms (${((idleCpuMs * 1000) / sockets / opts.idleSeconds).toFixed(2)} µs per socket-second); ` +
          `connecting took ${(connected.totalMs / 1000).toFixed(1)} s (${retried(connected.retries, connected.why)}); ` +
          `descriptors ${fdsBase} → ${fdsConnected} connected (limit ${limit}) → ${fdsDropped} after the drop; ` +
          `TaskActors constructed: ${builtConnect} while connecting, ${builtIdle} while idle, ${builtDrop} when the clients closed (evicted while idle), ${builtReconnect} on reconnect`,
      },
      {
        id: "B7",
        name: `reconnect: all ${sockets.toLocaleString("en-US")} at once with ?after= (each task changed while away)`,
        latency: [{ p50: percentile(sorted, 50), p99: percentile(sorted, 99), n: sorted.length }],
        cpuUs: [(reconnectCpuMs * 1000) / sockets],
        check: `every client caught up after ${(back.totalMs / 1000).toFixed(2)} s (${retried(back.retries, back.why)}); events missed or repeated: ${back.gaps}`,
        note: "server CPU per reconnect",
      },
    ];
  } catch (err) {
    // workerd's log goes with its folder on stop: keep a copy of a failed run's for diagnosis.
    const kept = join(tmpdir(), `sfp-bench-b7-workerd-${Date.now()}.log`);
    copyFileSync(edge.logFile, kept);
    throw new Error(`${String(err)} (workerd's log: ${kept})`);
  } finally {
    child.send({ cmd: "exit" });
    await edge.stop();
  }
}
