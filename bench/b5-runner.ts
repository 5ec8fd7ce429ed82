// B5: what a job waits for between its accept and its operation starting — forking a fresh worker
// process the way the manager does (runner/manager/worker-process.ts) until it says `ready` over
// IPC — and the manager's resident memory when idle, registered against a bare-workerd edge.
import { spawn } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { spawnWorker, workerEnv } from "../runner/manager/worker-process.ts";
import { apiCall, settle, type Row } from "./lib/common.ts";
import { REPO, startEdge } from "./lib/edge.ts";
import { percentile } from "./lib/wrk.ts";

function rssBytes(pid: number): number {
  const line = readFileSync(`/proc/${pid}/status`, "utf8").split("\n").find((l) => l.startsWith("VmRSS:"));
  return Number(/(\d+)/.exec(line ?? "")?.[1] ?? 0) * 1024;
}

async function forkToReady(): Promise<number> {
  const t0 = performance.now();
  const child = spawnWorker({ entry: join(REPO, "runner", "worker", "main.ts"), env: workerEnv(process.env) });
  await new Promise<void>((resolve, reject) => {
    child.once("message", (m: { type?: string }) => (m?.type === "ready" ? resolve() : reject(new Error(`unexpected ${JSON.stringify(m)}`))));
    child.once("exit", (code) => reject(new Error(`worker exited ${code} before ready`)));
  });
  const ms = performance.now() - t0;
  child.kill("SIGKILL");
  await new Promise((r) => child.once("exit", r));
  return ms;
}

export async function b5(opts: { runs: number; count: number }): Promise<Row[]> {
  const latency: { p50: number; p99: number; n: number }[] = [];
  for (let run = 0; run <= opts.runs; run++) {
    const samples: number[] = [];
    for (let i = 0; i < opts.count; i++) samples.push(await forkToReady());
    if (run === 0) continue;
    samples.sort((a, b) => a - b);
    latency.push({ p50: percentile(samples, 50), p99: percentile(samples, 99), n: samples.length });
  }

  const edge = await startEdge();
  const dir = mkdtempSync(join(tmpdir(), "sfp-bench-runner-"));
  try {
    const { project, owner } = await settle(edge.url);
    const reg = await apiCall(edge.url, "POST", `/v1/projects/${project}/registration-tokens`, owner, { pool: "default" });
    const manager = spawn(process.execPath, [join(REPO, "runner", "main.ts")], {
      env: {
        ...process.env,
        SFP_EDGE_URL: edge.url,
        SFP_REGISTRATION_TOKEN: reg.token,
        SFP_RUNNER_STATE_FILE: join(dir, "state.json"),
        SFP_RUNNER_LISTEN: "127.0.0.1:0",
        SFP_LOCAL_CREDENTIALS_FILE: join(dir, "credentials.json"),
        SFP_LOCAL_CREDENTIALS_KEY: "bench-local-key-0123456789",
      },
      stdio: ["ignore", "pipe", "inherit"],
    });
    let registered = false;
    manager.stdout!.on("data", (chunk: Buffer) => {
      if (chunk.toString().includes('"registered"')) registered = true;
    });
    for (let i = 0; !registered; i++) {
      if (i > 300 || manager.exitCode !== null) throw new Error("the manager did not register");
      await new Promise((r) => setTimeout(r, 100));
    }
    // Idle: registered, polling, heartbeating, nothing to run.
    await new Promise((r) => setTimeout(r, 5_000));
    const rss = rssBytes(manager.pid!);
    manager.kill("SIGTERM");
    await new Promise((r) => manager.once("exit", r));
    return [
      { id: "B5", name: "runner: worker forked → ready for its job (what an accepted job waits before its operation)", latency },
      { id: "B5", name: "runner: manager resident memory, idle and registered", note: `${(rss / 1024 / 1024).toFixed(1)} MiB`, check: `${(rss / 1024 / 1024).toFixed(1)} MiB RSS` },
    ];
  } finally {
    await edge.stop();
    rmSync(dir, { recursive: true, force: true });
  }
}
