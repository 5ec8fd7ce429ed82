// The whole system end to end, every part real and on loopback: a signed GitHub push → the edge in
// workerd → a task → a `node runner/main.ts` manager and its worker → the Salesforce org double (via
// jsforce, credentials from the local store) → the task's end, seen by the `sfp-edge` CLI as a user
// runs it, by the dashboard in headless Chromium, and by a desktop-style WebSocket client that loses
// its connection mid-task and resumes.
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { BrowserContext, Page } from "playwright-core";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { EdgeClient } from "../../protocol/client.ts";
import type { EventsPage, ServerMessage, Task, TaskEvent } from "../../protocol/index.ts";
import { registerOrg } from "../../runner/credentials/index.ts";
import { metadataZip } from "../doubles/salesforce-fixtures.ts";
import { startSalesforceOrg, type SalesforceOrgDouble } from "../doubles/salesforce-org.ts";
import { cli, startCli } from "./cli-process.ts";
import { chromiumAvailable, openDashboard } from "./dashboard-browser.ts";
import { createProject, startEdge, type Edge } from "./edge-process.ts";
import { killAllManagers, startManager, waitFor, type ManagerProcess } from "./manager-process.ts";
import { deliverGithub } from "./stack.ts";
import { startTcpProxy, type TcpProxy } from "./tcp-proxy.ts";

const haveChromium = chromiumAvailable("the dashboard checks of test/system/e2e.test.ts");

const CREDENTIALS_KEY = `e2e-local-store-key-${crypto.randomUUID()}`;
const WEBHOOK_SECRET = `github-webhook-secret-${crypto.randomUUID()}`;
/** Two classes, a custom object and its layout, with their package.xml: the "4 components" below. */
const ZIP = metadataZip().toString("base64");
/** Status checks a deploy stays InProgress: in effect until the test lowers it again. */
const HOLD = 1_000_000;
/** The longest any one step may take on a loaded machine; a test's timeout covers all of its steps. */
const STEP_MS = 90_000;

let root: string;
let org: SalesforceOrgDouble;
let edge: Edge;
let project: string;
let owner: string;
let api: EdgeClient;
let manager: ManagerProcess;
let hookUrl: string;
let configDir: string;
let proxy: TcpProxy;
let context: BrowserContext | undefined;
let page: Page | undefined;

beforeAll(async () => {
  root = mkdtempSync(join(tmpdir(), "sfp-e2e-"));
  org = await startSalesforceOrg();
  edge = await startEdge();
  ({ project, ownerToken: owner } = await createProject(edge, "e2e"));
  api = new EdgeClient(edge.url, owner);
  await api.request("PUT", `/v1/projects/${project}/orgs/demo`, { body: { orgId: org.orgId } });
  const credentialsFile = join(root, "store", "credentials.json");
  await registerOrg({ alias: "demo", sfdxAuthUrl: org.authUrl, project, config: { provider: "local", file: credentialsFile, key: CREDENTIALS_KEY } });

  const { body: reg } = await api.request<{ token: string }>("POST", `/v1/projects/${project}/registration-tokens`, { body: { pool: "default" } });
  manager = startManager({
    edgeUrl: edge.url,
    registrationToken: reg.token,
    name: "e2e",
    dir: mkdtempSync(join(root, "manager-")),
    credentialsFile,
    credentialsKey: CREDENTIALS_KEY,
  });
  await manager.waitForLog("registered", STEP_MS);

  const { body: put } = await api.request<{ source: { url: string } }>("PUT", `/v1/projects/${project}/webhook-sources/github-main`, {
    body: {
      kind: "github",
      secret: WEBHOOK_SECRET,
      rules: [{ on: "push", if: { ref: "refs/heads/main" }, task: { type: "deploy", org: "demo", payload: { zipBase64: ZIP } } }],
    },
  });
  hookUrl = `${edge.url}${put.source.url}`;

  configDir = mkdtempSync(join(root, "cli-"));
  const login = await cli(["--config-dir", configDir, "login", "--url", edge.url, "--project", project, "--token", owner]);
  if (login.code !== 0) throw new Error(`login failed: ${login.stderr}`);
  proxy = await startTcpProxy(edge.url);

  if (haveChromium) {
    ({ context, page } = await openDashboard(edge.url, project, owner, mkdtempSync(join(root, "chromium-")), 60_000));
  }
}, 240_000);

afterEach(() => {
  org.controls.deployPolls = 1;
  org.controls.componentFailures = [];
});

afterAll(async () => {
  await context?.close();
  await killAllManagers();
  await proxy?.close();
  await edge?.stop();
  await org?.close();
  if (root) rmSync(root, { recursive: true, force: true });
});

// ── helpers ────────────────────────────────────────────────────────────────────────────────────────

let pushes = 0;
/** A push to main, signed as GitHub signs it; answers the task it made. */
async function push(): Promise<string> {
  const body = JSON.stringify({ ref: "refs/heads/main", after: `e2e${++pushes}`.padEnd(40, "0"), repository: { full_name: "acme/force-app" } });
  const res = await deliverGithub(hookUrl, WEBHOOK_SECRET, "push", body);
  expect(res.status).toBe(202);
  const { tasks } = (await res.json()) as { tasks: string[] };
  expect(tasks).toHaveLength(1);
  return tasks[0];
}

async function task(id: string): Promise<Task> {
  return (await api.request<{ task: Task }>("GET", `/v1/tasks/${id}`)).body.task;
}

async function events(id: string): Promise<TaskEvent[]> {
  return (await api.request<EventsPage>("GET", `/v1/tasks/${id}/events?limit=1000`)).body.events;
}

/** Resolves once the org double has answered a status check of a deploy made after `before` deploys. */
async function deployRunning(before: number): Promise<string> {
  return waitFor(
    () => {
      const id = org.deployIds()[before];
      return id && org.requests.some((r) => r.body.includes("<checkDeployStatus>") && r.body.includes(id)) ? id : undefined;
    },
    STEP_MS,
    "the worker to start a deploy and check on it",
  );
}

const statusChecks = (deployId: string) => org.requests.filter((r) => r.body.includes("<checkDeployStatus>") && r.body.includes(deployId)).length;

async function dashboardShows(id: string, status: string): Promise<void> {
  if (!page) return;
  await page.waitForSelector(`#tasks tr[data-id="${id}"][data-status="${status}"]`, { timeout: STEP_MS });
}

// ── the tests ──────────────────────────────────────────────────────────────────────────────────────

// Each test: five bounded steps and the watch's end.
describe("a signed GitHub push, end to end", { timeout: 6 * STEP_MS }, () => {
  it("deploys through the runner to Salesforce and succeeds, as the CLI's watch (exit 0) and the dashboard both show live", async () => {
    org.controls.deployPolls = HOLD;
    const deploysBefore = org.deployIds().length;
    const id = await push();
    const watch = startCli(["--config-dir", configDir, "task", "watch", id]);
    await watch.waitFor(/\[status\] running/, "stdout", STEP_MS);
    const deployId = await deployRunning(deploysBefore);
    await dashboardShows(id, "running");

    org.controls.deployPolls = 0;
    expect(await watch.exit).toBe(0);
    expect(watch.stdout()).toMatch(/\[status\] queued[\s\S]*\[status\] running[\s\S]*\[progress\] 100%[\s\S]*\[status\] succeeded/);
    expect(watch.stdout()).toContain(`task ${id} succeeded`);
    await dashboardShows(id, "succeeded");

    const done = await task(id);
    expect(done).toMatchObject({ status: "succeeded", type: "deploy", org: "demo", source: { kind: "webhook", event: "push" } });
    expect(done.result).toMatchObject({ id: deployId, status: "Succeeded", success: true });
    // The zip from the rule's payload is what reached Salesforce.
    expect(org.requests.some((r) => r.body.includes("<deploy>") && r.body.includes(`<ZipFile>${ZIP}</ZipFile>`))).toBe(true);
  });

  it("fails when Salesforce reports a component failure, as the CLI's watch (exit 1) and the dashboard both show", async () => {
    org.controls.componentFailures = [
      {
        componentType: "ApexClass",
        fullName: "AccountService",
        fileName: "classes/AccountService.cls",
        problem: "Variable does not exist: totl",
        lineNumber: 12,
        columnNumber: 9,
      },
    ];
    org.controls.deployPolls = HOLD;
    const deploysBefore = org.deployIds().length;
    const id = await push();
    const watch = startCli(["--config-dir", configDir, "task", "watch", id]);
    await watch.waitFor(/\[status\] running/, "stdout", STEP_MS);
    await deployRunning(deploysBefore);
    await dashboardShows(id, "running");

    org.controls.deployPolls = 0;
    expect(await watch.exit).toBe(1);
    expect(watch.stdout()).toMatch(new RegExp(`task ${id} failed: deploy_failed: deploy \\S+ Failed: 1 component failure`));
    expect(watch.stdout()).toContain("Variable does not exist: totl");
    await dashboardShows(id, "failed");
    expect(await task(id)).toMatchObject({ status: "failed", attempt: 1, error: { code: "deploy_failed" } });
  });
});

// Seven bounded steps and two socket closes.
describe("a desktop client on the task WebSocket", { timeout: 9 * STEP_MS }, () => {
  /** A socket as a desktop app opens it: Node's WebSocket (undici) with the Authorization header. */
  function openTaskSocket(
    id: string,
    query = "",
  ): {
    ws: WebSocket;
    messages: ServerMessage[];
    closed: Promise<{ code: number; reason: string }>;
    next(match: (m: ServerMessage) => boolean, what: string): Promise<ServerMessage>;
  } {
    const ws = new WebSocket(`${proxy.url.replace(/^http/, "ws")}/v1/tasks/${id}/ws${query}`, { headers: { authorization: `Bearer ${owner}` } });
    const messages: ServerMessage[] = [];
    ws.addEventListener("message", (e) => messages.push(JSON.parse(String(e.data)) as ServerMessage));
    const closed = new Promise<{ code: number; reason: string }>((resolve) => ws.addEventListener("close", resolve));
    return {
      ws,
      messages,
      closed,
      next: (match, what) => waitFor(() => messages.find(match), STEP_MS, what),
    };
  }
  const seqsOf = (ms: ServerMessage[]) => ms.flatMap((m) => (m.type === "event" ? [m.seq] : []));

  it("loses its connection mid-task, resumes with {type:resume, after:N}, and receives every event once, without a gap, through the terminal event and the 1000 close", async () => {
    org.controls.deployPolls = HOLD;
    const deploysBefore = org.deployIds().length;
    const { body } = await api.request<{ task: Task }>("POST", `/v1/projects/${project}/tasks`, {
      body: { type: "deploy", org: "demo", payload: { zipBase64: ZIP } },
    });
    const id = body.task.id;

    // From the first event: `?after=0` replays before anything goes out live, so the order is seq order.
    const first = openTaskSocket(id, "?after=0");
    await first.next(
      (m) => m.type === "event" && m.event.type === "progress" && m.event.step === "InProgress",
      "the deploy's InProgress progress on the first socket",
    );
    const deployId = await deployRunning(deploysBefore);

    // The network goes away: the connection dies without a close handshake, and new ones wait.
    proxy.hold();
    proxy.dropAll();
    const lost = await first.closed;
    expect(lost.code).not.toBe(1000);
    const seen = seqsOf(first.messages);
    const n = Math.max(...seen);
    expect(seen).toEqual(Array.from({ length: n }, (_, i) => i + 1));

    // While it is away the deploy moves on (a quarter of the components at the next status check,
    // done only after 3p+3 more), then stalls: its progress drops back to 0/4, and no event follows
    // until the test lets it finish, so none can race the replay on the next socket.
    const checks = statusChecks(deployId);
    org.controls.deployPolls = 4 * checks + 3;
    const moved = await waitFor(
      async () => (await events(id)).find((e) => e.seq > n && e.type === "progress" && (e.percent ?? 0) >= 25),
      STEP_MS,
      "progress made while the client was away",
    );
    org.controls.deployPolls = HOLD;
    await waitFor(
      async () => (await events(id)).some((e) => e.seq > moved.seq && e.type === "log" && e.lines.some((l) => l.includes("0/4 components"))),
      STEP_MS,
      "the deploy to stall again",
    );

    proxy.release();
    const second = openTaskSocket(id);
    const hello = await second.next((m) => m.type === "hello", "the second hello");
    second.ws.send(JSON.stringify({ type: "resume", after: n }));
    const lastMissed = hello.type === "hello" ? hello.lastSeq : 0;
    await waitFor(() => seqsOf(second.messages).includes(lastMissed), STEP_MS, `the replay up to seq ${lastMissed}`);

    // Then live: the deploy finishes while the resumed socket listens.
    org.controls.deployPolls = 0;
    const close = await second.closed;
    expect(close.code).toBe(1000);
    expect(await task(id)).toMatchObject({ status: "succeeded" });

    const all = await events(id);
    const resumed = seqsOf(second.messages);
    expect(resumed).toEqual(all.filter((e) => e.seq > n).map((e) => e.seq));
    expect(all.map((e) => e.seq)).toEqual(Array.from({ length: all.length }, (_, i) => i + 1));
    expect([...seen, ...resumed]).toEqual(all.map((e) => e.seq));
    expect(resumed.some((s) => s > lastMissed)).toBe(true);
    const terminal = second.messages.filter((m) => m.type === "event").at(-1);
    expect(terminal).toMatchObject({ type: "event", event: { type: "status", status: "succeeded" } });
    // Each replayed event is the stored one, not a look-alike.
    for (const m of second.messages) if (m.type === "event") expect(m.event).toEqual(all[m.seq - 1]);
  });
});
