// B1: correctly signed GitHub deliveries (each with its own delivery id) → durably queued tasks,
// 32 connections, zero non-2xx; beside it the edge's own ceiling (GET /healthz) and the naive
// baseline (one Durable Object RPC + one SQLite insert per request, over 64 objects), and the floor:
// those rows batched per object as the edge batches per shard, over 4 objects.
import { createHmac } from "node:crypto";
import { createWriteStream } from "node:fs";
import { join } from "node:path";
import { REPO, startEdge, startNaive } from "./lib/edge.ts";
import { apiCall, peerEvents, settle, type Row } from "./lib/common.ts";
import { profiled } from "./lib/profile.ts";
import { runWrk } from "./lib/wrk.ts";

const SECRET = "bench-github-secret-0123456789abcdef";

export interface B1Options {
  runs: number;
  seconds: number;
  connections: number;
  requests: number;
  scratch: string;
}

async function writeRequests(file: string, count: number): Promise<void> {
  const { makeEvent } = await peerEvents();
  const out = createWriteStream(file);
  for (let i = 0; i < count; i++) {
    const { event, payload } = makeEvent(i);
    const body = JSON.stringify(payload);
    const sig = `sha256=${createHmac("sha256", SECRET).update(body).digest("hex")}`;
    if (!out.write(`${event}\t${crypto.randomUUID()}\t${sig}\t${body}\n`)) await new Promise<void>((r) => out.once("drain", () => r()));
  }
  await new Promise<void>((r) => out.end(() => r()));
}

/** The peer's mapping, as rules: push → normal, `/` comments → critical, finished workflow runs → batch. */
const RULES = [
  { on: "push", task: { type: process.env.B1_FREE ? "run-tests" : "deploy", org: "demo", priority: "normal", payload: { ref: "{{ref}}", sha: "{{after}}" } } },
  {
    on: "issue_comment.created",
    if: { "comment.body": "/*" },
    task: { type: "run-tests", org: "demo", priority: "critical", payload: { command: "{{comment.body}}" } },
  },
  {
    on: "workflow_run.completed",
    task: { type: process.env.B1_FREE ? "retrieve" : "validate", org: "demo", priority: "batch", payload: { run: "{{workflow_run.id}}" } },
  },
];

export async function b1(opts: B1Options): Promise<Row[]> {
  const rows: Row[] = [];
  const file = join(opts.scratch, "b1-requests.tsv");
  await writeRequests(file, opts.requests);

  const edge = await startEdge();
  try {
    const { project, owner } = await settle(edge.url);
    const put = await apiCall(edge.url, "PUT", `/v1/projects/${project}/webhook-sources/github`, owner, { kind: "github", secret: SECRET, rules: RULES });
    const hookPath = new URL(put.source.url, edge.url).pathname;

    const ping = [];
    runWrk({ url: `${edge.url}/healthz`, seconds: 2, connections: opts.connections, pids: [edge.pid] });
    for (let i = 0; i < opts.runs; i++)
      ping.push(runWrk({ url: `${edge.url}/healthz`, seconds: opts.seconds, connections: opts.connections, pids: [edge.pid] }));
    rows.push({ id: "B1", name: "edge GET /healthz (ceiling)", runs: ping, doPerOp: 0 });

    let offset = 0;
    const env = () => ({ REQ_FILE: file, REQ_OFFSET: String(offset), HOOK_PATH: hookPath });
    const warm = runWrk({
      url: edge.url,
      script: join(REPO, "bench/lib/webhook.lua"),
      seconds: 2,
      connections: opts.connections,
      pids: [edge.pid],
      env: env(),
    });
    offset += warm.requests + opts.connections;
    const ingest = [];
    for (let i = 0; i < opts.runs; i++) {
      // With BENCH_PROFILE=<dir>, the first run is also sampled by V8's profiler (it costs CPU).
      const run = await profiled(i === 0 ? edge.inspector : undefined, process.env.BENCH_PROFILE, "b1-ingest", edge.bundle, () =>
        runWrk({
          url: edge.url,
          script: join(REPO, "bench/lib/webhook.lua"),
          seconds: opts.seconds,
          connections: opts.connections,
          pids: [edge.pid],
          env: env(),
        }),
      );
      ingest.push(run);
      offset += run.requests + opts.connections;
      if (offset > opts.requests) throw new Error(`B1 ran out of distinct deliveries (${opts.requests}); raise --requests`);
    }
    // Every 2xx must be a durably queued task: the rules map every event of the peer's mix, so the
    // project's index must end up with one task per delivery wrk counted.
    const queued = await countQueued(edge.url, project, owner);
    const accepted = warm.requests + ingest.reduce((a, r) => a + r.requests, 0);
    rows.push({
      id: "B1",
      name: "signed GitHub delivery → durably queued task",
      runs: ingest,
      doPerOp: NaN,
      // wrk stops counting at its deadline with requests in flight, so the server may have queued up
      // to `connections` more per wrk run than wrk counted.
      check: `non-2xx ${ingest.reduce((a, r) => a + r.non2xx, 0) + warm.non2xx}; tasks queued ${queued} ≥ deliveries answered ${accepted}: ${queued >= accepted ? "yes" : "NO"}`,
    });
  } finally {
    await edge.stop();
  }

  const naive = await startNaive();
  try {
    // A 2 s warm-up, then the measured runs of append.lua against the naive Worker.
    const appendRuns = (env?: Record<string, string>) => {
      const run = (seconds: number) =>
        runWrk({ url: naive.url, script: join(REPO, "bench/lib/append.lua"), seconds, connections: opts.connections, pids: [naive.pid], env });
      run(2);
      return Array.from({ length: opts.runs }, () => run(opts.seconds));
    };
    rows.push({ id: "B1", name: "naive: one DO RPC + one SQLite insert per request, 64 objects", runs: appendRuns(), doPerOp: 1 });
    // The floor: the same bodies batched per object as the edge batches per shard, over as many objects.
    rows.push({
      id: "B1",
      name: "floor: the naive rows batched as the edge batches (one RPC + one commit per batch), 4 objects",
      runs: appendRuns({ APPEND_PREFIX: "/batch/s", APPEND_OBJECTS: "4" }),
      doPerOp: NaN,
    });
  } finally {
    await naive.stop();
  }
  return rows;
}

async function countQueued(url: string, project: string, token: string): Promise<number> {
  let count = 0;
  let last = -1;
  // The hand-off to the index runs after the answers; wait until the count stops moving.
  for (let settled = 0; settled < 3; ) {
    count = 0;
    let cursor: string | null = null;
    do {
      const page: { tasks: unknown[]; cursor: string | null } = await apiCall(
        url,
        "GET",
        `/v1/projects/${project}/tasks?limit=200${cursor ? `&cursor=${cursor}` : ""}`,
        token,
      );
      count += page.tasks.length;
      cursor = page.cursor;
    } while (cursor);
    settled = count === last ? settled + 1 : 0;
    last = count;
    await new Promise((r) => setTimeout(r, 500));
  }
  return count;
}
