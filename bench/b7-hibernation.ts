// B7: what hibernation costs and saves. 10,000 task sockets over 1,000 tasks stay idle for 60 s:
// workerd's resident memory and CPU while idle (the actors should be evicted, the sockets kept).
// Then every client drops, each task changes while they are away (canceled), and all 10,000
// reconnect at once with ?after=<the last seq they had>: the time until each has caught up with
// the version its new hello announced, and any event missed or repeated.
import { fork } from "node:child_process";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { apiCall, nextMessage as next, settle, type Row } from "./lib/common.ts";
import { cpuSeconds, REPO, startEdge } from "./lib/edge.ts";
import { percentile } from "./lib/wrk.ts";

export interface HibernationOptions {
  tasks: number;
  perTask: number;
  idleSeconds: number;
}

function rssMiB(pid: number): number {
  const line = readFileSync(`/proc/${pid}/status`, "utf8")
    .split("\n")
    .find((l) => l.startsWith("VmRSS:"));
  return Number(line?.split(/\s+/)[1] ?? NaN) / 1024;
}

/** Runs `fn` over `items`, `width` at a time. */
async function inParallel<T, R>(items: T[], width: number, fn: (item: T) => Promise<R>): Promise<R[]> {
  const out: R[] = [];
  for (let i = 0; i < items.length; i += width) out.push(...(await Promise.all(items.slice(i, i + width).map(fn))));
  return out;
}

export async function b7(opts: HibernationOptions): Promise<Row[]> {
  const edge = await startEdge();
  const child = fork(join(REPO, "bench", "lib", "ws-idle.ts"), [], { stdio: ["ignore", "inherit", "inherit", "ipc"] });
  try {
    await next(child, (m) => m.up);
    const { project, owner } = await settle(edge.url);
    const ids = Array.from({ length: opts.tasks }, (_, i) => i);
    const taskIds = await inParallel(ids, 8, async () => {
      const { task } = await apiCall(edge.url, "POST", `/v1/projects/${project}/tasks`, owner, { type: "run-tests", org: "demo" });
      return task.id as string;
    });
    const base = edge.url.replace("http", "ws");
    const rssBefore = rssMiB(edge.pid);
    const connecting = next(child, (m) => (m.connected ? m : undefined)) as Promise<{ connected: number; totalMs: number; retries: number }>;
    child.send({ cmd: "connect", base, token: owner, taskIds, perTask: opts.perTask });
    const connected = await connecting;
    const rssConnected = rssMiB(edge.pid);
    const cpu0 = cpuSeconds(edge.pid);
    await new Promise((r) => setTimeout(r, opts.idleSeconds * 1000));
    const idleCpuMs = (cpuSeconds(edge.pid) - cpu0) * 1000;
    const rssIdle = rssMiB(edge.pid);

    const dropping = next(child, (m) => m.dropped);
    child.send({ cmd: "drop" });
    await dropping;
    // Every task moves on while its watchers are away.
    await inParallel(taskIds, 8, (id) => apiCall(edge.url, "POST", `/v1/tasks/${id}/cancel`, owner, {}));
    const cpu1 = cpuSeconds(edge.pid);
    const reconnecting = next(child, (m) => (m.connected ? m : undefined)) as Promise<{ ms: number[]; gaps: number; totalMs: number; retries: number }>;
    child.send({ cmd: "reconnect", base, token: owner, taskIds, perTask: opts.perTask });
    const back = await reconnecting;
    const reconnectCpuMs = (cpuSeconds(edge.pid) - cpu1) * 1000;
    const sockets = connected.connected;
    const sorted = back.ms.sort((a, b) => a - b);
    return [
      {
        id: "B7",
        name: `idle: ${sockets.toLocaleString("en-US")} task sockets over ${opts.tasks.toLocaleString("en-US")} tasks for ${opts.idleSeconds} s`,
        check:
          `workerd RSS ${rssBefore.toFixed(0)} MiB before, ${rssConnected.toFixed(0)} MiB connected, ${rssIdle.toFixed(0)} MiB after idling; ` +
          `CPU while idle ${idleCpuMs.toFixed(0)} ms (${((idleCpuMs * 1000) / sockets / opts.idleSeconds).toFixed(2)} µs per socket-second); connecting took ${(connected.totalMs / 1000).toFixed(1)} s (${connected.retries} sockets retried)`,
      },
      {
        id: "B7",
        name: `reconnect: all ${sockets.toLocaleString("en-US")} at once with ?after= (each task changed while away)`,
        latency: [{ p50: percentile(sorted, 50), p99: percentile(sorted, 99), n: sorted.length }],
        cpuUs: [(reconnectCpuMs * 1000) / sockets],
        check: `every client caught up after ${(back.totalMs / 1000).toFixed(2)} s (${back.retries} sockets retried); events missed or repeated: ${back.gaps}`,
        note: "server CPU per reconnect",
      },
    ];
  } finally {
    child.send({ cmd: "exit" });
    await edge.stop();
  }
}
