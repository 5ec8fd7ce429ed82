// The live view with every part real (issue 16): the edge in workerd, a `node runner/main.ts` manager
// sampling its worker from /proc, the Salesforce double, and the `sfp-edge` CLI. A running deploy's
// worker CPU and RSS reach its task socket and the project feed; `runner list|drain|revoke` and `top`
// work against the stack.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { EdgeClient } from "../../protocol/client.ts";
import type { ServerMessage, Task } from "../../protocol/index.ts";
import { metadataZip } from "../doubles/salesforce-fixtures.ts";
import type { SalesforceOrgDouble } from "../doubles/salesforce-org.ts";
import type { Edge } from "./edge-process.ts";
import { waitFor } from "./manager-process.ts";
import { STEP_MS, type Stack, startStack } from "./stack.ts";

const ZIP = metadataZip().toString("base64");
const HOLD = 1_000_000;

let stack: Stack;
let org: SalesforceOrgDouble;
let edge: Edge;
let project: string;
let owner: string;
let api: EdgeClient;

beforeAll(async () => {
  // A 6 s lease: the manager heartbeats (runner and job) every 2 s.
  stack = await startStack({ name: "live", orgs: { demo: {} }, edgeVars: { LEASE_SECONDS: "6" } });
  ({ org, edge, project, owner, api } = stack);
}, 240_000);

afterAll(() => stack?.stop());

function socket(path: string): { ws: WebSocket; messages: ServerMessage[] } {
  const ws = new WebSocket(`${edge.url.replace(/^http/, "ws")}${path}`, { headers: { authorization: `Bearer ${owner}` } });
  const messages: ServerMessage[] = [];
  ws.addEventListener("message", (e) => messages.push(JSON.parse(String(e.data)) as ServerMessage));
  return { ws, messages };
}

async function read(id: string): Promise<Task> {
  return (await api.request<{ task: Task }>("GET", `/v1/tasks/${id}`)).body.task;
}

describe("resources pushed from a real manager", () => {
  it("shows a running worker's CPU and RSS on the task socket and the project feed, and keeps the peak on the task", async () => {
    org.controls.deployPolls = HOLD;
    const feed = socket(`/v1/projects/${project}/ws`);
    const { body } = await api.request<{ task: Task }>("POST", `/v1/projects/${project}/tasks`, {
      body: { type: "deploy", org: "demo", payload: { zipBase64: ZIP } },
    });
    const id = body.task.id;
    await waitFor(async () => (await read(id)).status === "running", STEP_MS, "the deploy running");
    const task = socket(`/v1/tasks/${id}/ws`);
    const sample = await waitFor(() => task.messages.find((m) => m.type === "resources"), STEP_MS, "a resources message on the task socket");
    if (sample.type !== "resources") throw new Error("unreachable");
    expect(sample.taskId).toBe(id);
    // A Node worker holds tens of MiB; its CPU is a share since the last heartbeat.
    expect(sample.memoryRssBytes).toBeGreaterThan(20 * 1024 * 1024);
    expect(sample.cpuPercent).toBeGreaterThanOrEqual(0);
    expect(sample.peakMemoryRssBytes).toBeGreaterThanOrEqual(sample.memoryRssBytes);
    const load = await waitFor(
      () => feed.messages.find((m) => m.type === "runner" && m.runner.jobs.some((j) => j.taskId === id)),
      STEP_MS,
      "the runner's load with the job on the project feed",
    );
    if (load.type !== "runner") throw new Error("unreachable");
    expect(load.runner).toMatchObject({ pool: "default", status: "busy", slots: 1, freeSlots: 0, name: "live" });
    // The manager and its worker together: more than the worker alone.
    const job = load.runner.jobs.find((j) => j.taskId === id);
    expect(load.runner.memoryRssBytes).toBeGreaterThan(job?.memoryRssBytes ?? Number.POSITIVE_INFINITY);
    expect((await read(id)).resources?.peakMemoryRssBytes).toBeGreaterThan(20 * 1024 * 1024);
    org.controls.deployPolls = 1;
    await waitFor(async () => (await read(id)).status === "succeeded", STEP_MS, "the deploy to succeed");
    // The samples are gauges: none of them is one of the task's events.
    const events = (await api.request<{ events: { type: string }[] }>("GET", `/v1/tasks/${id}/events`)).body.events;
    expect(events.some((e) => !["status", "progress", "log", "result", "lock", "checkpoint", "artifact"].includes(e.type))).toBe(false);
    feed.ws.close();
    task.ws.close();
  }, 240_000);
});
