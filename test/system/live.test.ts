// The live view with every part real (issue 16): the edge in workerd, a `node runner/main.ts` manager
// sampling its worker from /proc, the Salesforce double, and the `sfp-edge` CLI. A running deploy's
// worker CPU and RSS reach its task socket and the project feed; `runner list|drain|revoke` and `top`
// work against the stack.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { EdgeClient } from "../../protocol/client.ts";
import type { ServerMessage, Task } from "../../protocol/index.ts";
import { metadataZip } from "../doubles/salesforce-fixtures.ts";
import type { SalesforceOrgDouble } from "../doubles/salesforce-org.ts";
import { execFile, spawnSync } from "node:child_process";
import { promisify } from "node:util";
import { CLI_BIN, cli, startCli } from "./cli-process.ts";
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
let configDir: string;

beforeAll(async () => {
  // A 6 s lease: the manager heartbeats (runner and job) every 2 s.
  stack = await startStack({ name: "live", orgs: { demo: {} }, edgeVars: { LEASE_SECONDS: "6" } });
  ({ org, edge, project, owner, api, configDir } = stack);
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

async function heldDeploy(): Promise<string> {
  org.controls.deployPolls = HOLD;
  const { body } = await api.request<{ task: Task }>("POST", `/v1/projects/${project}/tasks`, {
    body: { type: "deploy", org: "demo", payload: { zipBase64: ZIP } },
  });
  await waitFor(async () => (await read(body.task.id)).status === "running", STEP_MS, "the deploy running");
  return body.task.id;
}

async function logText(id: string): Promise<string> {
  const res = await fetch(`${edge.url}/v1/tasks/${id}/logs`, { headers: { authorization: `Bearer ${owner}` } });
  return res.status === 200 ? res.text() : "";
}

const tmux = promisify(execFile);
const tmuxMissing = spawnSync("tmux", ["-V"]).error !== undefined;
if (tmuxMissing) {
  const reason = "tmux is not installed (apt-get install -y tmux): the `sfp-edge top` test cannot read a terminal";
  if (process.env.SFP_REQUIRE_TOOLS === "1") throw new Error(`${reason}, and SFP_REQUIRE_TOOLS=1`);
  console.warn(`\n*** SKIPPING the top test of test/system/live.test.ts: ${reason} ***\n`);
}

describe("the CLI's live commands against the stack", () => {
  it("task logs --follow prints the whole log once, over the socket and by long-poll, and exits 0 on success", async () => {
    for (const transport of [[], ["--poll"]]) {
      const id = await heldDeploy();
      const follow = startCli(["--config-dir", configDir, "task", "logs", id, "--follow", ...transport]);
      await waitFor(async () => (await logText(id)).length > 0, STEP_MS, "the first log line");
      org.controls.deployPolls = 1;
      expect(await follow.exit).toBe(0);
      const log = await logText(id);
      expect(log.length).toBeGreaterThan(0);
      expect(follow.stdout()).toBe(log);
      // Over the socket unless told to poll: no fallback notice.
      if (!transport.length) expect(follow.stderr()).not.toContain("long-polling");
    }
  }, 240_000);

  it.skipIf(tmuxMissing)(
    "top shows the running task and the busy runner live in a terminal (tmux), and quits on q",
    async () => {
      const session = `sfp-top-${process.pid}`;
      const command = [process.execPath, CLI_BIN, "--config-dir", configDir, "top"].map((a) => `'${a}'`).join(" ");
      await tmux("tmux", ["new-session", "-d", "-s", session, "-x", "200", "-y", "40", command]);
      const screen = async () => (await tmux("tmux", ["capture-pane", "-p", "-t", session])).stdout;
      try {
        await waitFor(async () => (await screen()).includes("feed live"), STEP_MS, "top connected to the feed");
        const id = await heldDeploy();
        const row = await waitFor(
          async () => (await screen()).split("\n").find((l) => l.includes(id) && l.includes("running") && /\d+MiB/.test(l) && l.includes("live")),
          STEP_MS,
          "the running task with its worker's load on the screen",
        );
        expect(row).toContain("deploy");
        expect(await screen()).toMatch(/live\s+default\s+busy\s+1\/1/);
        org.controls.deployPolls = 1;
        await waitFor(async () => (await read(id)).status === "succeeded", STEP_MS, "the deploy to succeed");
        await waitFor(async () => !(await screen()).includes(id), STEP_MS, "the finished task to leave the screen");
        await tmux("tmux", ["send-keys", "-t", session, "q"]);
        await waitFor(
          async () =>
            await tmux("tmux", ["has-session", "-t", session]).then(
              () => false,
              () => true,
            ),
          STEP_MS,
          "top to quit on q",
        );
      } finally {
        await tmux("tmux", ["kill-session", "-t", session]).catch(() => undefined);
      }
    },
    240_000,
  );

  it("runner list shows the runner; drain marks it draining; revoke removes it", async () => {
    const listed = await cli(["--config-dir", configDir, "runner", "list"]);
    expect(listed.code).toBe(0);
    const row = listed.stdout.split("\n").find((l) => /\blive\b/.test(l));
    expect(row).toMatch(/^rnr_\S+\s+live\s+default\s+(idle|busy)\s+\d\/1/);
    const id = row?.split(/\s+/)[0] ?? "";
    const drained = await cli(["--config-dir", configDir, "runner", "drain", id]);
    expect(drained).toMatchObject({ code: 0, stdout: expect.stringContaining(`asked runner ${id} to drain`) });
    const json = await cli(["--config-dir", configDir, "--json", "runner", "list"]);
    expect(JSON.parse(json.stdout).runners.find((r: { id: string }) => r.id === id)?.state).toBe("draining");
    const revoked = await cli(["--config-dir", configDir, "runner", "revoke", id]);
    expect(revoked).toMatchObject({ code: 0, stdout: expect.stringContaining(`revoked runner ${id}`) });
    expect((await cli(["--config-dir", configDir, "runner", "list"])).stdout).not.toContain(id);
    const unknown = await cli(["--config-dir", configDir, "runner", "drain", "rnr_nope"]);
    expect(unknown.code).toBe(1);
    expect(unknown.stderr).toContain("no such runner");
    expect((await cli(["--config-dir", configDir, "runner", "drain"])).code).toBe(2);
  }, 240_000);
});
