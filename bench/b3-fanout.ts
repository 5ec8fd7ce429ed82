// B3: one task, 1,000 hibernating WebSocket subscribers; job events paced one every 20 ms, then a
// burst of 200 back to back. Latency is from the event's POST to each client's message handler.
// Each is run again on the naive Worker (bench/naive): the floor of the runtime for the same fan-out.
import { type ChildProcess, fork } from "node:child_process";
import { join } from "node:path";
import { apiCall, nextMessage as next, settle, type Row } from "./lib/common.ts";
import { cpuSeconds, REPO, startEdge, startNaive } from "./lib/edge.ts";
import { percentile } from "./lib/wrk.ts";

export interface FanoutOptions {
  runs: number;
  clients: number;
  events: number;
  intervalMs: number;
}

/** One series' figures: latency over every delivery, server and client CPU per delivered event. */
interface Measured {
  latency: { p50: number; p99: number; n: number };
  cpuUs: number;
  check: string;
  clientUs: number;
}

/** One series: connect the clients to `url`, send the events paced by `interval`, collect every delivery. */
async function series(
  child: ChildProcess,
  pid: number,
  opts: FanoutOptions,
  url: string,
  token: string,
  interval: number,
  emit: (i: number, message: string) => Promise<unknown>,
): Promise<Measured> {
  child.send({ cmd: "connect", url, token, count: opts.clients });
  const connected = (await next(child, (m) => (m.connected ? m : undefined))) as { cpu: NodeJS.CpuUsage };
  const cpu0 = cpuSeconds(pid);
  const collected = next(child, (m) => (m.done ? m : undefined)) as Promise<{ received: number; samples: number[]; disorder: number; cpu: NodeJS.CpuUsage }>;
  child.send({ cmd: "collect", expected: opts.clients * opts.events, timeoutMs: 60_000 });
  for (let i = 1; i <= opts.events; i++) {
    const started = performance.now();
    await emit(i, String(process.hrtime.bigint()));
    const wait = interval - (performance.now() - started);
    if (wait > 0) await new Promise((r) => setTimeout(r, wait));
  }
  const result = await collected;
  const cpu = cpuSeconds(pid) - cpu0;
  child.send({ cmd: "close" });
  await next(child, (m) => m.closed);
  const s = result.samples.sort((a, b) => a - b);
  const clientUs = result.cpu.user + result.cpu.system - connected.cpu.user - connected.cpu.system;
  return {
    latency: { p50: percentile(s, 50), p99: percentile(s, 99), n: s.length },
    cpuUs: (cpu / Math.max(1, result.received)) * 1e6,
    check: `${result.received}/${opts.clients * opts.events}${result.disorder ? ` (${result.disorder} out of order)` : ""}`,
    clientUs: clientUs / Math.max(1, result.received),
  };
}

const LABELS = [
  ["paced", true],
  ["paced, plain frames", false],
  ["burst", true],
] as const;

function row(opts: FanoutOptions, label: string, interval: number, measured: Measured[], floor: boolean): Row {
  return {
    id: "B3",
    name: `${floor ? "floor: the naive Worker's " : ""}fan-out ${label}: ${opts.events} events${interval ? ` every ${interval} ms` : " back to back"} → ${opts.clients} WebSocket clients`,
    latency: measured.map((m) => m.latency),
    cpuUs: measured.map((m) => m.cpuUs),
    check: `delivered ${measured.map((m) => m.check).join(", ")}; the clients' CPU ${measured.map((m) => m.clientUs.toFixed(1)).join(", ")} µs per message`,
    note: "server CPU per delivered message",
  };
}

export async function b3(opts: FanoutOptions): Promise<Row[]> {
  const child = fork(join(REPO, "bench", "lib", "ws-clients.ts"), [], { stdio: ["ignore", "inherit", "inherit", "ipc"] });
  try {
    await next(child, (m) => m.up);
    return [...(await ours(child, opts)), ...(await floors(child, opts))];
  } finally {
    child.send({ cmd: "exit" });
  }
}

async function ours(child: ChildProcess, opts: FanoutOptions): Promise<Row[]> {
  const edge = await startEdge();
  try {
    const { project, owner } = await settle(edge.url);
    const reg = await apiCall(edge.url, "POST", `/v1/projects/${project}/registration-tokens`, owner, { pool: "default" });
    const registered = await fetch(`${edge.url}/v1/runners/register`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ registrationToken: reg.token, name: "bench", labels: [], slots: 1, ephemeral: false, version: "bench" }),
    }).then((r) => r.json() as Promise<{ runnerToken: string }>);
    const rows: Row[] = [];
    // Batch frames (?batch=1) are what a client that can take them gets; plain frames as before, paced.
    for (const [label, batch] of LABELS) {
      const interval = label === "burst" ? 0 : opts.intervalMs;
      const measured: Measured[] = [];
      for (let run = 0; run <= opts.runs; run++) {
        const { task } = await apiCall(edge.url, "POST", `/v1/projects/${project}/tasks`, owner, { type: "deploy", org: "demo" });
        const poll = await apiCall(edge.url, "POST", "/v1/runners/poll", registered.runnerToken, { freeSlots: 1, waitSeconds: 5 });
        const accepted = await apiCall(edge.url, "POST", `/v1/jobs/${task.id}/accept`, registered.runnerToken, {
          assignmentId: poll.assignments[0].assignmentId,
        });
        const url = `${edge.url.replace("http", "ws")}/v1/tasks/${task.id}/ws${batch ? "?batch=1" : ""}`;
        const m = await series(child, edge.pid, opts, url, owner, interval, (i, message) =>
          apiCall(edge.url, "POST", `/v1/jobs/${task.id}/events`, accepted.jobToken, {
            leaseEpoch: accepted.leaseEpoch,
            events: [{ seq: i, type: "progress", percent: (i * 100) / opts.events, message }],
          }),
        );
        await apiCall(edge.url, "POST", `/v1/jobs/${task.id}/finish`, accepted.jobToken, { leaseEpoch: accepted.leaseEpoch, outcome: "succeeded" });
        if (run > 0) measured.push(m);
      }
      rows.push(row(opts, label, interval, measured, false));
    }
    return rows;
  } finally {
    await edge.stop();
  }
}

/**
 * The runtime's floor for B3: the naive Worker (bench/naive) commits each event as a row on one
 * Durable Object and sends it to the same number of hibernatable sockets, one prepared string per
 * socket per round of sends — nothing of ours (no tokens, no routing, no event log, no watchers).
 * Paced, batch frames, once per linger in `BENCH_B3_LINGERS` (ms, default "0,20,40"): events committed
 * within the linger share a round; the best of them is the floor for the paced row. (Without a linger
 * the JavaScript that queues a round returns long before workerd has written it, so events do not
 * coalesce and the sockets fall behind by seconds.)
 */
async function floors(child: ChildProcess, opts: FanoutOptions): Promise<Row[]> {
  const naive = await startNaive();
  const lingers = (process.env.BENCH_B3_LINGERS ?? "0,20,40").split(",").filter(Boolean).map(Number);
  try {
    const rows: Row[] = [];
    let objects = 0;
    for (const linger of lingers) {
      const measured: Measured[] = [];
      for (let run = 0; run <= opts.runs; run++) {
        const object = `fan-${objects++}`;
        const url = `${naive.url.replace("http", "ws")}/ws/${object}?batch=1`;
        const m = await series(child, naive.pid, opts, url, "none", opts.intervalMs, async (_i, message) => {
          const res = await fetch(`${naive.url}/emit/${object}?linger=${linger}`, { method: "POST", body: JSON.stringify({ type: "progress", message }) });
          if (res.status !== 202) throw new Error(`emit: ${res.status}`);
        });
        if (run > 0) measured.push(m);
      }
      rows.push(row(opts, `paced, ${linger} ms linger`, opts.intervalMs, measured, true));
    }
    return rows;
  } finally {
    await naive.stop();
  }
}
