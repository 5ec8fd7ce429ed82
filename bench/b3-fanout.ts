// B3: one task, 1,000 hibernating WebSocket subscribers; job events paced one every 20 ms, then a
// burst of 200 back to back. Latency is from the event's POST to each client's message handler.
import { fork } from "node:child_process";
import { join } from "node:path";
import { apiCall, nextMessage as next, settle, type Row } from "./lib/common.ts";
import { cpuSeconds, REPO, startEdge } from "./lib/edge.ts";
import { percentile } from "./lib/wrk.ts";

export interface FanoutOptions {
  runs: number;
  clients: number;
  events: number;
  intervalMs: number;
}

export async function b3(opts: FanoutOptions): Promise<Row[]> {
  const edge = await startEdge();
  const child = fork(join(REPO, "bench", "lib", "ws-clients.ts"), [], { stdio: ["ignore", "inherit", "inherit", "ipc"] });
  try {
    await next(child, (m) => m.up);
    const { project, owner } = await settle(edge.url);
    const reg = await apiCall(edge.url, "POST", `/v1/projects/${project}/registration-tokens`, owner, { pool: "default" });
    const registered = await fetch(`${edge.url}/v1/runners/register`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ registrationToken: reg.token, name: "bench", labels: [], slots: 1, ephemeral: false, version: "bench" }),
    }).then((r) => r.json() as Promise<{ runnerToken: string }>);
    const rows: Row[] = [];
    // Batch frames (?batch=1) are what a client that can take them gets; plain frames as before, paced.
    for (const [label, interval, batch] of [
      ["paced", opts.intervalMs, true],
      ["paced, plain frames", opts.intervalMs, false],
      ["burst", 0, true],
    ] as const) {
      const latency: { p50: number; p99: number; n: number }[] = [];
      const cpuUs: number[] = [];
      const checks: string[] = [];
      for (let run = 0; run <= opts.runs; run++) {
        const { task } = await apiCall(edge.url, "POST", `/v1/projects/${project}/tasks`, owner, { type: "deploy", org: "demo" });
        const poll = await apiCall(edge.url, "POST", "/v1/runners/poll", registered.runnerToken, { freeSlots: 1, waitSeconds: 5 });
        const accepted = await apiCall(edge.url, "POST", `/v1/jobs/${task.id}/accept`, registered.runnerToken, {
          assignmentId: poll.assignments[0].assignmentId,
        });
        const url = `${edge.url.replace("http", "ws")}/v1/tasks/${task.id}/ws${batch ? "?batch=1" : ""}`;
        child.send({ cmd: "connect", url, token: owner, count: opts.clients });
        await next(child, (m) => m.connected);
        const cpu0 = cpuSeconds(edge.pid);
        const collected = next(child, (m) => (m.done ? m : undefined)) as Promise<{ received: number; samples: number[]; disorder: number }>;
        child.send({ cmd: "collect", expected: opts.clients * opts.events, timeoutMs: 60_000 });
        for (let i = 1; i <= opts.events; i++) {
          const started = performance.now();
          await apiCall(edge.url, "POST", `/v1/jobs/${task.id}/events`, accepted.jobToken, {
            leaseEpoch: accepted.leaseEpoch,
            events: [{ seq: i, type: "progress", percent: (i * 100) / opts.events, message: String(process.hrtime.bigint()) }],
          });
          const wait = interval - (performance.now() - started);
          if (wait > 0) await new Promise((r) => setTimeout(r, wait));
        }
        const result = await collected;
        const cpu = cpuSeconds(edge.pid) - cpu0;
        await apiCall(edge.url, "POST", `/v1/jobs/${task.id}/finish`, accepted.jobToken, { leaseEpoch: accepted.leaseEpoch, outcome: "succeeded" });
        if (run === 0) continue;
        const s = result.samples.sort((a, b) => a - b);
        latency.push({ p50: percentile(s, 50), p99: percentile(s, 99), n: s.length });
        cpuUs.push((cpu / Math.max(1, result.received)) * 1e6);
        checks.push(`${result.received}/${opts.clients * opts.events}${result.disorder ? ` (${result.disorder} out of order)` : ""}`);
      }
      rows.push({
        id: "B3",
        name: `fan-out ${label}: ${opts.events} events${interval ? ` every ${interval} ms` : " back to back"} → ${opts.clients} WebSocket clients`,
        latency,
        cpuUs,
        check: `delivered ${checks.join(", ")}`,
        note: "server CPU per delivered message",
      });
    }
    return rows;
  } finally {
    child.send({ cmd: "exit" });
    await edge.stop();
  }
}
