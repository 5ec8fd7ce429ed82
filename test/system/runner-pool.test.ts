// The runner pool end to end, every part a real process: the edge in workerd, `node runner/main.ts`
// managers, the worker processes they fork, the Salesforce org double driven by jsforce, the `local`
// credential store (an encrypted file), and, for the wake path, a real Caddy in front of a manager.
// The managers reach the edge through a recording proxy (edge-recorder.ts): it learns the runner and
// job tokens the edge hands out, so the test can look for them where they must not be.
import { spawn, spawnSync, type ChildProcess } from "node:child_process";
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import tls from "node:tls";
import { join } from "node:path";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { caddyArgs, caddyEnv, localRootCa } from "../../caddy/process.ts";
import { EdgeClient } from "../../protocol/client.ts";
import type { EventsPage, Task } from "../../protocol/index.ts";
import { registerOrg } from "../../runner/credentials/index.ts";
import { freePort } from "../doubles/free-port.ts";
import { metadataZip } from "../doubles/salesforce-fixtures.ts";
import { startSalesforceOrg, type SalesforceOrgDouble } from "../doubles/salesforce-org.ts";
import { startEdgeRecorder, type EdgeRecorder } from "./edge-recorder.ts";
import { createProject, startEdge, type Edge } from "./edge-process.ts";
import { childrenOf, killAllManagers, processAlive, procView, startManager, waitFor, type ManagerProcess } from "./manager-process.ts";

const caddyMissing = spawnSync("caddy", ["version"]).error !== undefined;
if (caddyMissing) {
  const reason = "caddy is not installed (apt-get install -y caddy): the wake-through-Caddy test cannot run";
  if (process.env.SFP_REQUIRE_TOOLS === "1") throw new Error(`${reason}, and SFP_REQUIRE_TOOLS=1`);
  console.warn(`\n*** SKIPPING the wake test of test/system/runner-pool.test.ts: ${reason} ***\n`);
}

/**
 * Leases short enough that a killed manager's task comes back within seconds, long enough that a
 * renewal (every third of the lease) delayed by a loaded machine does not lose one.
 */
const EDGE_VARS = { LEASE_SECONDS: "10", ACCEPT_SECONDS: "10", POLL_WAIT_SECONDS: "5" };
const CREDENTIALS_KEY = `local-store-key-${crypto.randomUUID()}`;
/** Two classes, a custom object and its layout, with their package.xml. */
const ZIP = metadataZip().toString("base64");
/** Status checks a deploy stays InProgress: effectively until the test lowers it again. */
const HOLD = 1_000_000;
/** Per test: each takes 5–20 s here, several times that on a loaded machine. */
const TEST_TIMEOUT_MS = 180_000;

let root: string;
let credentialsFile: string;
let org: SalesforceOrgDouble;
let edge: Edge;
let recorder: EdgeRecorder;
let caddyPort: number;

beforeAll(async () => {
  root = mkdtempSync(join(tmpdir(), "sfp-runner-pool-"));
  credentialsFile = join(root, "store", "credentials.json");
  org = await startSalesforceOrg();
  await registerOrg({ alias: "demo", sfdxAuthUrl: org.authUrl, config: { provider: "local", file: credentialsFile, key: CREDENTIALS_KEY } });
  // The edge's vars are fixed when it starts, so the wake test's Caddy gets its port now.
  caddyPort = await freePort();
  edge = await startEdge({ vars: { ...EDGE_VARS, POOL_ORIGINS: JSON.stringify({ "*": `https://127.0.0.1:${caddyPort}` }) } });
  recorder = await startEdgeRecorder(edge.url);
});

afterEach(async () => {
  await killAllManagers();
  org.controls.deployPolls = 1;
  recorder.refusePolls = false;
});

afterAll(async () => {
  await killAllManagers();
  await recorder?.close();
  await edge?.stop();
  await org?.close();
  if (root) rmSync(root, { recursive: true, force: true });
});

// ── helpers ────────────────────────────────────────────────────────────────────────────────────────

/** A project of its own for each test, so that no task of one test reaches another's managers. */
interface Pool {
  project: string;
  api: EdgeClient;
  registrationTokens: string[];
  createTask(body?: Record<string, unknown>): Promise<Task>;
  task(id: string): Promise<Task>;
  waitForTask(id: string, done: (t: Task) => boolean, what: string, timeoutMs?: number): Promise<Task>;
  events(id: string): Promise<EventsPage>;
  logs(id: string): Promise<string>;
  manager(name: string, opts?: { listen?: string; originToken?: string }): Promise<ManagerProcess>;
}

async function newPool(name: string): Promise<Pool> {
  const { project, ownerToken } = await createProject(edge, name);
  const api = new EdgeClient(edge.url, ownerToken);
  await api.request("PUT", `/v1/projects/${project}/orgs/demo`, { body: {} });
  const pool: Pool = {
    project,
    api,
    registrationTokens: [],
    async createTask(body = {}) {
      const res = await api.request<{ task: Task }>("POST", `/v1/projects/${project}/tasks`, {
        body: { type: "deploy", org: "demo", payload: { zipBase64: ZIP }, ...body },
      });
      return res.body.task;
    },
    async task(id) {
      return (await api.request<{ task: Task }>("GET", `/v1/tasks/${id}`)).body.task;
    },
    async waitForTask(id, done, what, timeoutMs = 60_000) {
      const deadline = Date.now() + timeoutMs;
      let task = await pool.task(id);
      while (!done(task)) {
        if (Date.now() > deadline) throw new Error(`task ${id}: not ${what} within ${timeoutMs} ms; last seen ${JSON.stringify(task)}`);
        // Long-poll: the edge answers as soon as the task's version moves past the one we hold.
        const res = await api.request<{ task: Task }>("GET", `/v1/tasks/${id}?wait=5&version=${task.version}`);
        task = res.body.task;
      }
      return task;
    },
    async events(id) {
      return (await api.request<EventsPage>("GET", `/v1/tasks/${id}/events?limit=1000`)).body;
    },
    async logs(id) {
      const res = await fetch(`${edge.url}/v1/tasks/${id}/logs`, { headers: { authorization: `Bearer ${ownerToken}` } });
      expect(res.status).toBe(200);
      return res.text();
    },
    async manager(managerName, opts = {}) {
      const { body } = await api.request<{ token: string }>("POST", `/v1/projects/${project}/registration-tokens`, { body: { pool: "default" } });
      pool.registrationTokens.push(body.token);
      const m = startManager({
        edgeUrl: recorder.url,
        registrationToken: body.token,
        name: managerName,
        dir: mkdtempSync(join(root, `${managerName}-`)),
        credentialsFile,
        credentialsKey: CREDENTIALS_KEY,
        listen: opts.listen,
        originToken: opts.originToken,
        // The orgs are registered without a project (before the pools' projects exist): opt in to that fallback.
        env: { SFP_TASK_CANCEL_GRACE_SECONDS: "1", SFP_TASK_KILL_GRACE_SECONDS: "1", SFP_CREDENTIALS_DEFAULT_FALLBACK: "true" },
      });
      await m.waitForLog("registered", 60_000);
      return m;
    },
  };
  return pool;
}

/** The worker of a task: a warm spare it took, or one forked for it ("worker spawned"). */
async function workerOf(m: ManagerProcess, taskId: string): Promise<number> {
  const spawned = await m.waitForLog((r) => (r.msg === "worker taken from spares" || r.msg === "worker spawned") && r.taskId === taskId);
  return spawned.pid as number;
}

/** The manager's children that are not `worker`, each of them a warm spare it forked (and no job's). */
function sparesBesides(m: ManagerProcess, worker: number): number[] {
  const others = childrenOf(m.pid).filter((pid) => pid !== worker);
  const spares = new Set(m.records.filter((r) => r.msg === "spare forked").map((r) => r.pid));
  expect(others.filter((pid) => !spares.has(pid))).toEqual([]);
  return others;
}

/** Resolves once the org double has been asked about a deploy that is still running (the worker is mid-job). */
async function deployInProgress(before: number): Promise<string> {
  return waitFor(
    () => {
      const id = org.deployIds()[before];
      return id && org.requests.some((r) => r.body.includes("<checkDeployStatus>") && r.body.includes(id)) ? id : undefined;
    },
    60_000,
    "the worker to start a deploy and check on it",
  );
}

function statuses(page: EventsPage): Array<{ status: string; attempt: number }> {
  return page.events.flatMap((e) => (e.type === "status" ? [{ status: e.status, attempt: e.attempt }] : []));
}

/** Every file under `dir`, recursively, with its text. */
function filesUnder(dir: string): Array<{ path: string; text: string }> {
  const out: Array<{ path: string; text: string }> = [];
  for (const name of readdirSync(dir)) {
    const path = join(dir, name);
    const st = statSync(path);
    if (st.isDirectory()) out.push(...filesUnder(path));
    else if (st.isFile()) out.push({ path, text: readFileSync(path, "latin1") });
  }
  return out;
}

/** The spellings of a secret a leak may take: plain, URL-encoded, base64, JSON-escaped. */
function spellings(secret: string): string[] {
  return [...new Set([secret, encodeURIComponent(secret), Buffer.from(secret).toString("base64"), JSON.stringify(secret).slice(1, -1)])];
}

function expectNoSecret(where: string, haystack: string, secrets: Record<string, string>): void {
  for (const [name, secret] of Object.entries(secrets)) {
    for (const s of spellings(secret)) {
      expect(haystack.includes(s), `${name} appears in ${where}`).toBe(false);
    }
  }
}

// ── the tests ──────────────────────────────────────────────────────────────────────────────────────

describe("the runner pool with the real edge, managers and workers", () => {
  it(
    "runs a deploy end to end: created, dispatched, accepted, worker, Salesforce, succeeded with the deploy result, events and logs readable, the worker gone",
    async () => {
      const pool = await newPool("pool-e2e");
      const manager = await pool.manager("e2e");
      const deploysBefore = org.deployIds().length;

      const created = await pool.createTask();
      expect(created).toMatchObject({ type: "deploy", org: "demo", status: "queued", attempt: 1 });
      const task = await pool.waitForTask(created.id, (t) => t.status === "succeeded" || t.status === "failed", "finished");

      expect(task.error).toBeUndefined();
      expect(task).toMatchObject({ status: "succeeded", attempt: 1 });
      const deployId = org.deployIds()[deploysBefore];
      expect(task.result).toMatchObject({
        id: deployId,
        status: "Succeeded",
        success: true,
        checkOnly: false,
        numberComponentsDeployed: 4,
        numberComponentsTotal: 4,
        componentFailures: [],
      });
      // The zip of the payload is what reached Salesforce.
      const deploy = org.requests.find((r) => r.body.includes("<deploy>") && r.body.includes(`<ZipFile>${ZIP}</ZipFile>`));
      expect(deploy).toBeDefined();

      const page = await pool.events(task.id);
      expect(page.done).toBe(true);
      expect(page.events.map((e) => e.seq)).toEqual(page.events.map((_, i) => i + 1));
      expect(statuses(page).map((s) => s.status)).toEqual(["queued", "running", "succeeded"]);
      expect(page.events.some((e) => e.type === "progress" && e.percent === 100)).toBe(true);
      expect(page.events.find((e) => e.type === "result")).toMatchObject({ result: { id: deployId, status: "Succeeded" } });
      const logs = await pool.logs(task.id);
      expect(logs).toContain("deploy on demo");
      expect(logs).toMatch(new RegExp(`deploy ${deployId} Succeeded`));

      const ended = await manager.waitForLog((r) => r.msg === "job ended" && r.taskId === task.id);
      expect(ended).toMatchObject({ outcome: "succeeded" });
      const pid = await workerOf(manager, task.id);
      await waitFor(() => !processAlive(pid), 10_000, `worker ${pid} to be gone`);
      // What is left is at most the warm spare for the next job.
      expect(sparesBesides(manager, pid).length).toBeLessThanOrEqual(1);
      expect(manager.alive()).toBe(true);
    },
    TEST_TIMEOUT_MS,
  );

  it(
    "lets no secret reach the manager's output, the task's events, logs, result or errors, a worker's argv or environment, or any file but the encrypted store",
    async () => {
      const pool = await newPool("pool-secrets");
      // A second org whose refresh token is revoked: its task fails on the auth path, with an error message.
      const revokedOrg = await startSalesforceOrg();
      try {
        revokedOrg.controls.revokeRefreshToken();
        await registerOrg({ alias: "revoked", sfdxAuthUrl: revokedOrg.authUrl, config: { provider: "local", file: credentialsFile, key: CREDENTIALS_KEY } });
        await pool.api.request("PUT", `/v1/projects/${pool.project}/orgs/revoked`, { body: {} });
        const manager = await pool.manager("secrets", { originToken: edge.originToken });

        org.controls.deployPolls = HOLD;
        const before = org.deployIds().length;
        const slow = await pool.createTask();
        const pid = await workerOf(manager, slow.id);
        await deployInProgress(before);
        expect(childrenOf(manager.pid)).toContain(pid);
        // Sampled while the worker holds the org's tokens and the deploy runs.
        const samples: string[] = [];
        for (let i = 0; i < 5; i++) {
          const view = procView(pid);
          samples.push(`argv: ${view.cmdline}\nenv:\n${view.environ}`);
          await new Promise((r) => setTimeout(r, 200));
        }
        expect(samples[0]).toMatch(/runner\/worker\/main\.ts/);
        org.controls.deployPolls = 0;
        const done = await pool.waitForTask(slow.id, (t) => t.status === "succeeded" || t.status === "failed", "finished");
        expect(done.status).toBe("succeeded");

        const failing = await pool.createTask({ type: "org-check", org: "revoked", payload: {} });
        const failed = await pool.waitForTask(failing.id, (t) => t.status === "failed" || t.status === "succeeded", "finished");
        expect(failed.status).toBe("failed");
        expect(failed.error?.message.length).toBeGreaterThan(0);

        manager.child.kill("SIGTERM");
        expect((await manager.exit).code).toBe(0);

        const runnerTokens = recorder.calls
          .filter((c) => c.path === "/v1/runners/register" && c.status === 201)
          .map((c) => JSON.parse(c.responseBody).runnerToken as string);
        const runnerToken = runnerTokens.find((t) => readFileSync(manager.stateFile, "utf8").includes(t));
        expect(runnerToken).toBeDefined();
        // A retried accept answers the same job token: one per task.
        const jobTokens = [
          ...new Set(
            recorder.calls
              .filter((c) => /^\/v1\/jobs\/[^/]+\/accept$/.test(c.path) && c.status === 200 && c.token === runnerToken)
              .map((c) => JSON.parse(c.responseBody).jobToken as string),
          ),
        ];
        expect(jobTokens).toHaveLength(2);
        expect(org.issuedTokens.length).toBeGreaterThan(0);
        const secrets: Record<string, string> = {
          "the refresh token": org.refreshToken,
          "the client secret": org.clientSecret,
          "the revoked org's refresh token": revokedOrg.refreshToken,
          "the revoked org's client secret": revokedOrg.clientSecret,
          "the local store key": CREDENTIALS_KEY,
          "the registration token": pool.registrationTokens[0],
          "the origin token": edge.originToken,
          ...Object.fromEntries(org.issuedTokens.map((t, i) => [`access token #${i + 1}`, t])),
          ...Object.fromEntries(jobTokens.map((t, i) => [`job token #${i + 1}`, t])),
        };
        const withRunnerToken = { ...secrets, "the runner token": runnerToken! };

        expect(manager.records.length).toBeGreaterThan(5);
        expectNoSecret("the manager's stdout/stderr", manager.output(), withRunnerToken);
        for (const id of [slow.id, failing.id]) {
          expectNoSecret(`task ${id}`, JSON.stringify(await pool.task(id)), withRunnerToken);
          expectNoSecret(`the events of ${id}`, JSON.stringify(await pool.events(id)), withRunnerToken);
          expectNoSecret(`the logs of ${id}`, await pool.logs(id), withRunnerToken);
        }
        expectNoSecret("the failed task's error message", failed.error!.message, withRunnerToken);
        for (const [i, s] of samples.entries()) expectNoSecret(`the worker's argv/environ (sample ${i + 1})`, s, withRunnerToken);

        // The files the runner wrote: the state file holds the runner token (documented, mode 0600) and
        // nothing else secret; no other file under the test's directories holds any secret.
        const files = filesUnder(root).filter((f) => f.path !== credentialsFile);
        expect(files.map((f) => f.path)).toContain(manager.stateFile);
        for (const f of files) expectNoSecret(f.path, f.text, f.path === manager.stateFile ? secrets : withRunnerToken);
        expect(statSync(manager.stateFile).mode & 0o777).toBe(0o600);
        // The encrypted store holds no secret in the clear either.
        expectNoSecret("the encrypted credential store", readFileSync(credentialsFile, "utf8"), {
          refresh: org.refreshToken,
          secret: org.clientSecret,
          key: CREDENTIALS_KEY,
        });
      } finally {
        await revokedOrg.close();
      }
    },
    TEST_TIMEOUT_MS,
  );

  it(
    "fails the attempt with worker_crashed when the worker process is SIGKILLed mid-job, and the manager takes the next task",
    async () => {
      const pool = await newPool("pool-worker-kill");
      const manager = await pool.manager("worker-kill");
      org.controls.deployPolls = HOLD;
      const before = org.deployIds().length;
      const task = await pool.createTask();
      const logged = await workerOf(manager, task.id);
      await deployInProgress(before);

      expect(childrenOf(manager.pid)).toContain(logged);
      expect(sparesBesides(manager, logged).length).toBeLessThanOrEqual(1);
      process.kill(logged, "SIGKILL");

      const failed = await pool.waitForTask(task.id, (t) => t.status !== "queued" && t.status !== "running", "finished");
      expect(failed).toMatchObject({ status: "failed", attempt: 1, error: { code: "worker_crashed" } });
      expect(failed.error?.message).toMatch(/killed by SIGKILL/);
      expect(statuses(await pool.events(task.id))).toEqual([
        { status: "queued", attempt: 1 },
        { status: "running", attempt: 1 },
        { status: "failed", attempt: 1 },
      ]);
      await waitFor(() => !processAlive(logged), 10_000, "the killed worker to be reaped");

      org.controls.deployPolls = 1;
      const next = await pool.createTask();
      expect((await pool.waitForTask(next.id, (t) => t.status === "succeeded" || t.status === "failed", "finished")).status).toBe("succeeded");
      expect(manager.alive()).toBe(true);
    },
    TEST_TIMEOUT_MS,
  );

  it(
    "requeues a task whose manager was SIGKILLed mid-deploy, and another manager's attempt 2 resumes the same Salesforce deploy (one deploy call) to its result",
    async () => {
      const pool = await newPool("pool-manager-kill");
      const first = await pool.manager("doomed");
      org.controls.deployPolls = HOLD;
      const before = org.deployIds().length;
      const deployCalls = () => org.requests.filter((r) => r.body.includes("<deploy>")).length;
      const callsBefore = deployCalls();
      const task = await pool.createTask();
      const orphan = await workerOf(first, task.id);
      // The worker polls only once the edge stored its checkpoint (issue 13): the deploy is resumable from here.
      const firstDeploy = await deployInProgress(before);
      expect((await pool.task(task.id)).checkpoint).toMatchObject({ operation: "deploy", salesforceId: firstDeploy, attempt: 1 });

      const second = await pool.manager("survivor");
      first.child.kill("SIGKILL");
      expect((await first.exit).signal).toBe("SIGKILL");
      // The orphaned worker noticed its manager was gone and left the checkpointed deploy running.
      await waitFor(() => !processAlive(orphan), 30_000, `orphaned worker ${orphan} to exit`);

      const requeued = await pool.waitForTask(task.id, (t) => t.attempt >= 2 || (t.status !== "running" && t.status !== "queued"), "requeued", 60_000);
      expect(requeued.attempt).toBe(2);
      await second.waitForLog((r) => r.msg === "job started" && r.taskId === task.id);
      org.controls.deployPolls = 1;
      const done = await pool.waitForTask(task.id, (t) => t.status === "succeeded" || t.status === "failed", "finished");
      expect(done).toMatchObject({ status: "succeeded", attempt: 2, result: { id: firstDeploy, status: "Succeeded", numberComponentsDeployed: 4 } });
      const page = await pool.events(task.id);
      expect(statuses(page)).toEqual([
        { status: "queued", attempt: 1 },
        { status: "running", attempt: 1 },
        { status: "queued", attempt: 2 },
        { status: "running", attempt: 2 },
        { status: "succeeded", attempt: 2 },
      ]);
      expect(page.events.map((e) => e.seq)).toEqual(page.events.map((_, i) => i + 1));
      expect(page.events.filter((e) => e.type === "checkpoint")).toEqual([
        expect.objectContaining({ operation: "deploy", salesforceId: firstDeploy, attempt: 1 }),
      ]);
      expect(await pool.logs(task.id)).toContain(`resuming deploy ${firstDeploy}, started by attempt 1`);
      expect(await second.waitForLog((r) => r.msg === "job ended" && r.taskId === task.id)).toMatchObject({ outcome: "succeeded" });
      expect(second.records.find((r) => r.msg === "job started" && r.taskId === task.id)).toMatchObject({ attempt: 2 });
      // Exactly one deploy reached Salesforce, and nobody canceled it.
      expect(deployCalls() - callsBefore).toBe(1);
      expect(org.deployIds().slice(before)).toEqual([firstDeploy]);
      expect(org.requests.some((r) => r.body.includes("<cancelDeploy>") && r.body.includes(firstDeploy))).toBe(false);
    },
    TEST_TIMEOUT_MS,
  );

  it(
    "on SIGTERM drains: the running job finishes, no new job is taken, the manager exits 0, and a task created meanwhile waits for another manager",
    async () => {
      const pool = await newPool("pool-drain");
      const draining = await pool.manager("draining");
      org.controls.deployPolls = HOLD;
      const before = org.deployIds().length;
      const running = await pool.createTask();
      await workerOf(draining, running.id);
      await deployInProgress(before);

      draining.child.kill("SIGTERM");
      await draining.waitForLog("draining");
      const waiting = await pool.createTask();
      // The manager keeps heartbeating as draining while its job runs.
      const runnerToken = JSON.parse(readFileSync(draining.stateFile, "utf8")).runnerToken as string;
      await waitFor(
        () => recorder.calls.some((c) => c.path === "/v1/runners/heartbeat" && c.token === runnerToken && JSON.parse(c.requestBody).state === "draining"),
        15_000,
        "a draining heartbeat",
      );
      org.controls.deployPolls = 0;
      const done = await pool.waitForTask(running.id, (t) => t.status === "succeeded" || t.status === "failed", "finished");
      expect(done.status).toBe("succeeded");
      expect(await draining.exit).toEqual({ code: 0, signal: null });

      expect(await pool.task(waiting.id)).toMatchObject({ status: "queued", attempt: 1 });
      expect(draining.records.filter((r) => r.taskId === waiting.id)).toEqual([]);
      expect(recorder.calls.filter((c) => c.path === `/v1/jobs/${waiting.id}/accept` && c.token === runnerToken)).toEqual([]);

      org.controls.deployPolls = 1;
      const taker = await pool.manager("taker");
      const taken = await pool.waitForTask(waiting.id, (t) => t.status === "succeeded" || t.status === "failed", "finished");
      expect(taken).toMatchObject({ status: "succeeded", attempt: 1 });
      expect(await taker.waitForLog((r) => r.msg === "job ended" && r.taskId === waiting.id)).toMatchObject({ outcome: "succeeded" });
    },
    TEST_TIMEOUT_MS,
  );
});

describe.skipIf(caddyMissing)("the edge waking an idle manager through Caddy", () => {
  let caddy: ChildProcess | undefined;
  let caddyLog = "";
  let managerPort = 0;

  beforeAll(async () => {
    managerPort = await freePort();
    const home = mkdtempSync(join(root, "caddy-"));
    caddy = spawn("caddy", caddyArgs(), {
      env: caddyEnv({ home, port: caddyPort, upstreams: `127.0.0.1:${managerPort}`, originToken: edge.originToken, healthInterval: "1s" }),
      stdio: ["ignore", "ignore", "pipe"],
    });
    caddy.stderr!.on("data", (c: Buffer) => (caddyLog += c.toString()));
    const rootCa = localRootCa(home);
    await waitFor(() => existsSync(rootCa) || caddy!.exitCode !== null, 30_000, "Caddy's local CA");
    if (caddy.exitCode !== null) throw new Error(`caddy exited: ${caddyLog.slice(-2000)}`);
    // wrangler's harness makes the edge's outbound fetches from this process, with Node's trust store:
    // trust Caddy's local CA here, as an operator installs an origin certificate the edge trusts.
    tls.setDefaultCACertificates([...tls.getCACertificates("default"), readFileSync(rootCa, "utf8")]);
  }, 60_000);

  afterAll(async () => {
    if (caddy && caddy.exitCode === null && caddy.signalCode === null) {
      const gone = new Promise((r) => caddy!.once("exit", r));
      caddy.kill("SIGTERM");
      await gone;
    }
  });

  it(
    "sends a signed wake through Caddy when a task is queued and no poll is parked, and the manager polls at once instead of finishing its backoff",
    async () => {
      const pool = await newPool("pool-wake");
      // Polls answer 503 until the manager's backoff is long; heartbeats and everything else still pass.
      recorder.refusePolls = true;
      const manager = await pool.manager("wakeable", { listen: `127.0.0.1:${managerPort}`, originToken: edge.originToken });
      const backoff = await manager.waitForLog((r) => r.msg === "poll failed" && Number(r.retryInMs) >= 12_000, 90_000);
      const backoffEndsAt = Date.parse(String(backoff.time)) + Number(backoff.retryInMs);
      recorder.refusePolls = false;

      const task = await pool.createTask();
      const wake = await manager.waitForLog("wake", 30_000);
      expect(wake).toMatchObject({ woke: true, project: pool.project, pool: "default", queued: 1 });
      // The edge logs the wake once Caddy's answer is in, which may be just after the manager's line.
      const sent = await waitFor(
        () => {
          const lines = edge.harness
            .getLogs()
            .map((l) => l.message)
            .filter((m) => m.includes('"wake sent"') && m.includes(pool.project));
          return lines.length ? lines : undefined;
        },
        10_000,
        "the edge's wake log line",
      );
      expect(sent.map((m) => JSON.parse(m).status)).toEqual([202]);
      const done = await pool.waitForTask(task.id, (t) => t.status === "succeeded" || t.status === "failed", "finished");
      expect(done.status).toBe("succeeded");

      // The poll that took the task came after the wake and before the backoff would have let it run.
      const runnerToken = JSON.parse(readFileSync(manager.stateFile, "utf8")).runnerToken as string;
      const taking = recorder.calls.find(
        (c) => c.path === "/v1/runners/poll" && c.token === runnerToken && c.status === 200 && c.responseBody.includes(task.id),
      );
      expect(taking).toBeDefined();
      expect(taking!.at).toBeGreaterThanOrEqual(Date.parse(String(wake.time)));
      expect(taking!.at).toBeLessThan(backoffEndsAt);
      expect(
        recorder.calls.filter(
          (c) => c.path === "/v1/runners/poll" && c.token === runnerToken && c.at > Date.parse(String(backoff.time)) && c.at < Date.parse(String(wake.time)),
        ),
      ).toEqual([]);
      // Caddy passed it on: its access log shows the wake, without the origin token.
      expect(caddyLog).toContain("/v1/wake");
      expect(caddyLog).not.toContain(edge.originToken);
    },
    TEST_TIMEOUT_MS,
  );
});
