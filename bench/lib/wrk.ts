// Runs wrk against a server and reads back what it measured, with the server's CPU over the run.
import { spawnSync } from "node:child_process";
import { cpuSeconds } from "./edge.ts";

export interface WrkRun {
  requests: number;
  rps: number;
  p50ms: number;
  p99ms: number;
  non2xx: number;
  socketErrors: number;
  cpuSeconds: number;
  /** Server CPU per request, microseconds. */
  cpuUsPerReq: number;
}

function ms(text: string | undefined): number {
  if (!text) return NaN;
  const m = /^([\d.]+)(us|ms|s)$/.exec(text.trim());
  if (!m) return NaN;
  const v = Number(m[1]);
  return m[2] === "us" ? v / 1000 : m[2] === "s" ? v * 1000 : v;
}

export function runWrk(opts: { url: string; script?: string; seconds: number; connections: number; pids: number[]; env?: Record<string, string> }): WrkRun {
  const cpu0 = opts.pids.reduce((a, p) => a + cpuSeconds(p), 0);
  const args = ["-t1", `-c${opts.connections}`, `-d${opts.seconds}s`, "--latency", ...(opts.script ? ["-s", opts.script] : []), opts.url];
  const res = spawnSync("wrk", args, { encoding: "utf8", env: { ...process.env, ...opts.env }, timeout: (opts.seconds + 60) * 1000 });
  if (res.status !== 0) throw new Error(`wrk failed: ${res.stderr || res.stdout}`);
  const cpu = opts.pids.reduce((a, p) => a + cpuSeconds(p), 0) - cpu0;
  const out = res.stdout;
  const requests = Number(/(\d+) requests in/.exec(out)?.[1] ?? 0);
  const errors = /Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)/.exec(out);
  return {
    requests,
    rps: Number(/Requests\/sec:\s+([\d.]+)/.exec(out)?.[1] ?? 0),
    p50ms: ms(/\s50%\s+(\S+)/.exec(out)?.[1]),
    p99ms: ms(/\s99%\s+(\S+)/.exec(out)?.[1]),
    non2xx: Number(/Non-2xx or 3xx responses: (\d+)/.exec(out)?.[1] ?? 0),
    socketErrors: errors ? errors.slice(1).reduce((a, n) => a + Number(n), 0) : 0,
    cpuSeconds: cpu,
    cpuUsPerReq: requests ? (cpu / requests) * 1e6 : NaN,
  };
}

export function median(values: number[]): number {
  const s = [...values].sort((a, b) => a - b);
  return s.length ? s[Math.floor((s.length - 1) / 2)] : NaN;
}

export function percentile(sorted: number[], p: number): number {
  if (!sorted.length) return NaN;
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1))];
}
