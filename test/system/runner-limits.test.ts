// Over-size output against the real edge (workerd) and its real 1 MiB API body limit: a runner
// manager whose worker (test/doubles/bulky-worker.ts) reports a 3 MB result and log events of 1.5 MB
// each. The task must succeed on its first attempt with a truncated result, and every log line must
// be in the task's log: before, the 413s made the task run maxAttempts times and end `lost`, and
// every line after the first over-size batch was dropped.
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { EdgeClient } from "../../protocol/client.ts";
import type { Task } from "../../protocol/index.ts";
import { storeBroker } from "../../runner/credentials/broker.ts";
import { Agent } from "../../runner/manager/agent.ts";
import { MANAGER_VERSION } from "../../runner/manager/config.ts";
import { createLogger } from "../../runner/manager/log.ts";
import { Metrics } from "../../runner/manager/metrics.ts";
import { createProject, startEdge, type Edge } from "./edge-process.ts";

const BULKY_WORKER = resolve(import.meta.dirname, "..", "doubles", "bulky-worker.ts");

let edge: Edge;
let dir: string;
let api: EdgeClient;
let project: string;
let agent: Agent;
let exit: Promise<number>;

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), "sfp-runner-limits-"));
  edge = await startEdge({ vars: { LEASE_SECONDS: "20", POLL_WAIT_SECONDS: "5" } });
  const created = await createProject(edge, "runner-limits");
  project = created.project;
  api = new EdgeClient(edge.url, created.ownerToken);
  await api.request("PUT", `/v1/projects/${project}/orgs/demo`, { body: {} });
  const { body } = await api.request<{ token: string }>("POST", `/v1/projects/${project}/registration-tokens`, { body: { pool: "default" } });
  agent = new Agent({
    config: {
      edgeUrl: edge.url,
      registrationToken: body.token,
      name: "limits-runner",
      labels: [],
      slots: 1,
      ephemeral: false,
      stateFile: join(dir, "state.json"),
      listen: { host: "127.0.0.1", port: 0 },
      workerEntry: BULKY_WORKER,
      cancelGraceMs: 300,
      killGraceMs: 300,
      workerEnvPassthrough: [],
      logLevel: "info",
      version: MANAGER_VERSION,
      source: { cacheDir: join(dir, "source-cache"), allowLocalHttp: false, allowedHosts: [] },
    },
    log: createLogger({ level: "info", write: () => {} }),
    metrics: new Metrics(),
    // The bulky worker never asks for an org: an empty local store is enough.
    credentials: storeBroker({ provider: "local", file: join(dir, "none.json"), key: "unused-key-0123456789" }),
  });
  exit = agent.run();
}, 180_000);

afterAll(async () => {
  agent?.cancelAll("test over");
  await exit;
  await edge?.stop();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

async function runToEnd(payload: Record<string, unknown>): Promise<Task> {
  const { body } = await api.request<{ task: Task }>("POST", `/v1/projects/${project}/tasks`, { body: { type: "org-check", org: "demo", payload } });
  let task = body.task;
  const deadline = Date.now() + 150_000;
  while (!["succeeded", "failed", "canceled"].includes(task.status)) {
    if (Date.now() > deadline) throw new Error(`task ${task.id} did not end; last seen ${task.status}, attempt ${task.attempt}`);
    task = (await api.request<{ task: Task }>("GET", `/v1/tasks/${task.id}?wait=10&version=${task.version}`)).body.task;
  }
  return task;
}

/** The task's whole log: the edge answers at most 1 MiB a time, so read on from each page's end. */
async function readWholeLog(taskId: string): Promise<string> {
  const pages: Buffer[] = [];
  let offset = 0;
  for (;;) {
    const res = await fetch(`${edge.url}/v1/tasks/${taskId}/logs`, { headers: { authorization: `Bearer ${api.token}`, range: `bytes=${offset}-` } });
    expect(res.status).toBe(206);
    pages.push(Buffer.from(await res.arrayBuffer()));
    const range = /^bytes (\d+)-(\d+)\/(\d+)$/.exec(res.headers.get("content-range") ?? "");
    expect(range).not.toBeNull();
    offset = Number(range?.[2]) + 1;
    if (offset >= Number(range?.[3])) return Buffer.concat(pages).toString("utf8");
  }
}

describe("output over the real edge's body limit", () => {
  it("finishes a 3 MB result truncated on the first attempt", async () => {
    const task = await runToEnd({ bulky: { records: { count: 3_000, chars: 1_000 } } });
    expect(task).toMatchObject({ status: "succeeded", attempt: 1 });
    const result = task.result as { truncated: boolean; records: unknown[]; truncation: { cut: unknown[] } };
    expect(result.truncated).toBe(true);
    expect(result.truncation.cut).toEqual([{ path: "records", kept: result.records.length, of: 3_000, unit: "items" }]);
  }, 180_000);

  it("keeps every line of log events bigger than one body, in order", async () => {
    const task = await runToEnd({ bulky: { logs: { events: 3, lines: 1_000, chars: 1_500 } } });
    expect(task).toMatchObject({ status: "succeeded", attempt: 1 });
    const heads = (await readWholeLog(task.id))
      .split("\n")
      .filter(Boolean)
      .map((line) => line.slice(0, line.indexOf(" ")));
    const expected = [];
    for (let e = 1; e <= 3; e++) for (let l = 1; l <= 1_000; l++) expected.push(`L${e}.${l}`);
    expect(heads).toEqual(expected);
  }, 180_000);
});
