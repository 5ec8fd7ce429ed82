// B5: what a job waits for between its accept and its operation starting — forking a fresh worker
// process the way the manager does (runner/manager/worker-process.ts) until it says `ready` over
// IPC, which is what a job waits without a warm spare — then the same wait through a real manager
// that hands each accepted job a warm spare (its "worker started" log line: accept → `start` sent),
// and the manager's resident memory when idle, registered against a bare-workerd edge.
import { spawn } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createInterface } from "node:readline";
import { spawnWorker, workerEnv } from "../runner/manager/worker-process.ts";
import { makeZip } from "../test/doubles/salesforce-fixtures.ts";
import { apiCall, settle, type Row } from "./lib/common.ts";
import { REPO, startEdge } from "./lib/edge.ts";
import { percentile } from "./lib/wrk.ts";

function rssBytes(pid: number): number {
  const line = readFileSync(`/proc/${pid}/status`, "utf8")
    .split("\n")
    .find((l) => l.startsWith("VmRSS:"));
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

/** Jobs per run through the manager: each also waits for the next spare, so fewer than the forks. */
const SPARE_JOBS_PER_RUN = 10;
const LOG_WAIT_MS = 30_000;

const mib = (bytes: number) => (bytes / 1024 / 1024).toFixed(1);
const pidsLogged = (records: Record<string, unknown>[], msg: string) => records.filter((r) => r.msg === msg).map((r) => r.pid as number);
/** Spares forked and not (yet) taken, killed or dead. */
const sparesOf = (records: Record<string, unknown>[]) => {
  const gone = new Set([...taken(records), ...pidsLogged(records, "spare died; replacing it"), ...pidsLogged(records, "spare retired after idling")]);
  return pidsLogged(records, "spare forked").filter((pid) => !gone.has(pid));
};
const taken = (records: Record<string, unknown>[]) => pidsLogged(records, "spare taken");

async function waitUntil<T>(check: () => T | undefined, what: string): Promise<T> {
  const deadline = Date.now() + LOG_WAIT_MS;
  for (;;) {
    const value = check();
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`B5: no ${what} within ${LOG_WAIT_MS} ms`);
    await new Promise((r) => setTimeout(r, 10));
  }
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
    const records: Record<string, unknown>[] = [];
    createInterface({ input: manager.stdout!, crlfDelay: Infinity }).on("line", (line) => {
      if (line.includes('"registered"')) registered = true;
      try {
        records.push(JSON.parse(line) as Record<string, unknown>);
      } catch {
        // not a log record
      }
    });
    const logged = (match: (r: Record<string, unknown>) => boolean, what: string) => waitUntil(() => records.find(match), what);
    for (let i = 0; !registered; i++) {
      if (i > 300 || manager.exitCode !== null) throw new Error("the manager did not register");
      await new Promise((r) => setTimeout(r, 100));
    }
    // Idle: registered, polling, heartbeating, nothing to run.
    await new Promise((r) => setTimeout(r, 5_000));
    const rss = rssBytes(manager.pid!);
    const spareRss = rssBytes(sparesOf(records)[0] ?? 0);

    // Accept → `start` with a warm spare: one task at a time, each once the next spare is ready. The
    // org has no credentials in the manager's store, so each job fails right after it starts.
    const zipBase64 = makeZip({
      "package.xml": '<?xml version="1.0" encoding="UTF-8"?><Package xmlns="http://soap.sforce.com/2006/04/metadata"><version>62.0</version></Package>',
    }).toString("base64");
    const spareLatency: { p50: number; p99: number; n: number }[] = [];
    const spareCount = Math.min(opts.count, SPARE_JOBS_PER_RUN);
    let forked = 0;
    for (let run = 0; run <= opts.runs; run++) {
      const samples: number[] = [];
      for (let i = 0; i < spareCount; i++) {
        await logged((r) => r.msg === "spare ready" && sparesOf(records).includes(r.pid as number), "a ready spare");
        const { task } = await apiCall(edge.url, "POST", `/v1/projects/${project}/tasks`, owner, { type: "deploy", org: "demo", payload: { zipBase64 } });
        const started = await logged((r) => r.msg === "worker started" && r.taskId === task.id, `task ${task.id} started`);
        const source = await logged((r) => (r.msg === "worker taken from spares" || r.msg === "worker spawned") && r.taskId === task.id, "its worker");
        if (source.msg === "worker spawned") forked++;
        samples.push(started.msSinceAccept as number);
        await logged((r) => r.msg === "job ended" && r.taskId === task.id, `task ${task.id} ended`);
      }
      if (run === 0) continue;
      samples.sort((a, b) => a - b);
      spareLatency.push({ p50: percentile(samples, 50), p99: percentile(samples, 99), n: samples.length });
    }
    manager.kill("SIGTERM");
    await new Promise((r) => manager.once("exit", r));
    return [
      { id: "B5", name: "runner: worker forked → ready for its job (what an accepted job waits before its operation)", latency },
      {
        id: "B5",
        name: "runner: job accepted → `start` sent to its worker, with a warm spare (real manager and worker)",
        latency: spareLatency,
        note: forked === 0 ? "every job took a ready spare" : `${forked} job(s) forked on demand`,
      },
      {
        id: "B5",
        name: "runner: manager resident memory, idle and registered",
        note: `${mib(rss)} MiB; its idle warm spare ${mib(spareRss)} MiB`,
        check: `${mib(rss)} MiB RSS`,
      },
    ];
  } finally {
    await edge.stop();
    rmSync(dir, { recursive: true, force: true });
  }
}
