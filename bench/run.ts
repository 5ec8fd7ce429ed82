// `npm run bench [-- --only B1,B2] [-- --peer] [--runs 3] [--seconds 8]`: runs the scenarios on bare
// workerd (Miniflare, not `wrangler dev`), optionally the peer (Fastify + BullMQ + Redis + ws) in
// the same invocation, and prints one table with the ratios. Not a test: nothing here asserts.
import { spawnSync } from "node:child_process";
import { cpSync, existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { parseArgs } from "node:util";
import { b1 } from "./b1-ingest.ts";
import { b2b4 } from "./b2-b4-latency.ts";
import { b3 } from "./b3-fanout.ts";
import { b5 } from "./b5-runner.ts";
import { b7 } from "./b7-hibernation.ts";
import { PEER_DIR, type Row } from "./lib/common.ts";
import { REPO } from "./lib/edge.ts";
import { median } from "./lib/wrk.ts";

const { values: o } = parseArgs({
  options: {
    only: { type: "string", default: "B1,B2,B3,B4,B5,B7" },
    peer: { type: "boolean", default: false },
    runs: { type: "string", default: "3" },
    seconds: { type: "string", default: "8" },
    connections: { type: "string", default: "32" },
  },
});
process.env.WRANGLER_SEND_METRICS = "false";
// An interrupted run still runs the exit handlers that stop every server it started.
for (const signal of ["SIGINT", "SIGTERM"] as const) process.once(signal, () => process.exit(130));
const only = new Set(o.only!.split(",").map((s) => s.trim().toUpperCase()));
const runs = Number(o.runs);
const seconds = Number(o.seconds);
const connections = Number(o.connections);
const scratch = mkdtempSync(join(tmpdir(), "sfp-bench-"));

type Scenario = (scratch: string) => Promise<Row[]>;
const scenarios: [string[], Scenario][] = [
  [["B1"], (dir) => b1({ runs, seconds, connections, requests: 150_000, scratch: dir })],
  [["B2", "B4"], () => b2b4({ runs, count: Number(process.env.BENCH_COUNT ?? 300) })],
  [["B5"], () => b5({ runs, count: Number(process.env.BENCH_FORKS ?? 20) })],
  [
    ["B7"],
    () =>
      b7({
        tasks: Number(process.env.BENCH_B7_TASKS ?? 1000),
        perTask: Number(process.env.BENCH_B7_PER_TASK ?? 10),
        idleSeconds: Number(process.env.BENCH_B7_IDLE ?? 60),
      }),
  ],
  [["B3"], () => b3({ runs, clients: Number(process.env.BENCH_CLIENTS ?? 1000), events: Number(process.env.BENCH_EVENTS ?? 200), intervalMs: 20 })],
];

interface PeerFigures {
  ingest?: number;
  ingestAlways?: number;
  ingestCpu?: number;
  dispatch?: { p50: number; p99: number };
  fanoutPaced?: { p50: number; p99: number };
}

function runPeer(): PeerFigures {
  if (!existsSync(PEER_DIR)) throw new Error(`the peer is missing: ${PEER_DIR}`);
  const dir = mkdtempSync(join(tmpdir(), "sfp-peer-"));
  cpSync(PEER_DIR, dir, { recursive: true });
  console.error(`[bench] running the peer from ${dir} (about 4–5 minutes)`);
  const res = spawnSync("bash", [join(dir, "run.sh")], {
    stdio: ["ignore", "inherit", "inherit"],
    env: { ...process.env, SKIP_WORKERD: "1", RUNS: String(runs), DURATION: String(seconds), NODE: process.execPath },
  });
  if (res.status !== 0) throw new Error(`the peer's run.sh failed (${res.status})`);
  const lines = readFileSync(join(dir, "results", "results.jsonl"), "utf8")
    .trim()
    .split("\n")
    .map((l) => JSON.parse(l));
  const med = (test: string, f: (r: any) => number) => median(lines.filter((l) => l.test === test).map(f));
  rmSync(dir, { recursive: true, force: true });
  return {
    ingest: med("ingest", (r) => r.rps ?? r.reqPerSec),
    ingestAlways: med("ingest-aof-always", (r) => r.rps ?? r.reqPerSec),
    ingestCpu: med("ingest-aof-always", (r) => r.cpuUsPerReq),
    dispatch: { p50: med("dispatch", (r) => r.enqueueToStart.p50), p99: med("dispatch", (r) => r.enqueueToStart.p99) },
    fanoutPaced: { p50: med("fanout-paced-20ms", (r) => r.p50), p99: med("fanout-paced-20ms", (r) => r.p99) },
  };
}

function fmt(n: number, digits = 0): string {
  return Number.isFinite(n) ? n.toLocaleString("en-US", { maximumFractionDigits: digits, minimumFractionDigits: digits }) : "–";
}

function table(rows: Row[], peer: PeerFigures | null): string {
  const out = [
    "| # | measurement | throughput, median [min–max] | latency p50 / p99 ms (medians) | server CPU per op | DO requests per op | baseline | ratio | checks |",
    "|---|---|---|---|---|---|---|---|---|",
  ];
  for (const r of rows) {
    let through = "–";
    let lat = "–";
    let cpu = "–";
    let baseline = "–";
    let ratio = "–";
    if (r.runs?.length) {
      const rps = r.runs.map((x) => x.rps);
      through = `${fmt(median(rps))} [${fmt(Math.min(...rps))}–${fmt(Math.max(...rps))}] req/s`;
      lat = `${fmt(median(r.runs.map((x) => x.p50ms)), 2)} / ${fmt(median(r.runs.map((x) => x.p99ms)), 2)}`;
      cpu = `${fmt(median(r.runs.map((x) => x.cpuUsPerReq)))} µs`;
      if (r.name.startsWith("signed GitHub") && peer?.ingestAlways) {
        baseline = `peer ${fmt(peer.ingestAlways)} req/s (fsync always), ${fmt(peer.ingest ?? NaN)} (no persistence)`;
        ratio = `${fmt(median(rps) / peer.ingestAlways, 2)}× / ${fmt(median(rps) / (peer.ingest ?? NaN), 2)}×`;
      }
    }
    if (r.latency?.length) {
      const p50 = median(r.latency.map((x) => x.p50));
      const p99 = median(r.latency.map((x) => x.p99));
      lat = `${fmt(p50, 2)} / ${fmt(p99, 2)} (p99 ${fmt(Math.min(...r.latency.map((x) => x.p99)), 1)}–${fmt(Math.max(...r.latency.map((x) => x.p99)), 1)})`;
      if (r.id === "B2" && !r.name.startsWith("floor") && peer?.dispatch) {
        baseline = `peer enqueue → worker start ${fmt(peer.dispatch.p50, 2)} / ${fmt(peer.dispatch.p99, 2)} ms`;
        ratio = `${fmt(p50 / peer.dispatch.p50, 2)}× / ${fmt(p99 / peer.dispatch.p99, 2)}× (lower is better)`;
      }
      if (r.id === "B3" && r.name.includes("paced") && !r.name.startsWith("floor") && peer?.fanoutPaced) {
        baseline = `peer at 500 clients ${fmt(peer.fanoutPaced.p50, 2)} / ${fmt(peer.fanoutPaced.p99, 2)} ms`;
        ratio = `${fmt(p50 / peer.fanoutPaced.p50, 2)}× / ${fmt(p99 / peer.fanoutPaced.p99, 2)}× (lower is better)`;
      }
      if (r.id === "B4" && !r.name.startsWith("floor")) {
        baseline = "goal p50 ≤ 3 ms (issue 17)";
        ratio = p50 <= 3 ? "met" : "missed";
      }
    }
    if (r.cpuUs?.length) cpu = `${fmt(median(r.cpuUs), 1)} µs`;
    out.push(
      `| ${r.id} | ${r.name} | ${through} | ${lat} | ${cpu} | ${r.doPerOp === undefined || Number.isNaN(r.doPerOp) ? "–" : fmt(r.doPerOp, 2)} | ${baseline} | ${ratio} | ${r.check ?? ""} |`,
    );
  }
  return out.join("\n");
}

const rows: Row[] = [];
try {
  for (const [ids, run] of scenarios) {
    if (!ids.some((id) => only.has(id))) continue;
    console.error(`[bench] ${ids.join(", ")}`);
    // A scenario that fails is reported as such; the others' figures still print.
    try {
      rows.push(...(await run(scratch)).filter((r) => only.has(r.id)));
    } catch (err) {
      console.error(`[bench] ${ids.join(", ")} failed: ${String(err)}`);
      rows.push({ id: ids[0], name: "(scenario failed)", check: String(err) });
    }
  }
  const peer = o.peer ? runPeer() : null;
  const report = [
    `## sfp-edge benchmarks (${new Date().toISOString()}, ${runs} runs × ${seconds} s, ${connections} connections, node ${process.version})`,
    "",
    table(rows, peer),
    "",
  ].join("\n");
  console.log(report);
  writeFileSync(join(REPO, "bench", "latest.md"), report);
  writeFileSync(join(REPO, "bench", "latest.json"), JSON.stringify({ rows, peer }, null, 2));
} finally {
  rmSync(scratch, { recursive: true, force: true });
}
