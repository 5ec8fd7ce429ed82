// A deploy's zipUrl through the whole runner: the real edge (workerd), a runner manager, the worker it
// forks, the Salesforce org double. The manager's zip settings reach the worker (over IPC): a strict
// runner refuses a loopback URL without connecting to it and says so generically; a runner started
// with SFP_ALLOW_LOOPBACK_HTTP (as `npm start` does) deploys from it.
import { mkdtempSync, rmSync } from "node:fs";
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { EdgeClient } from "../../protocol/client.ts";
import type { Task } from "../../protocol/index.ts";
import type { CredentialsConfig } from "../../runner/credentials/config.ts";
import { storeBroker } from "../../runner/credentials/broker.ts";
import { registerOrg } from "../../runner/credentials/index.ts";
import { Agent } from "../../runner/manager/agent.ts";
import { configFromEnv } from "../../runner/manager/config.ts";
import { createLogger } from "../../runner/manager/log.ts";
import { Metrics } from "../../runner/manager/metrics.ts";
import { makeZip } from "../doubles/salesforce-fixtures.ts";
import { startSalesforceOrg, type SalesforceOrgDouble } from "../doubles/salesforce-org.ts";
import { createProject, startEdge, type Edge } from "./edge-process.ts";

const ZIP = makeZip({
  "package.xml": '<?xml version="1.0" encoding="UTF-8"?><Package xmlns="http://soap.sforce.com/2006/04/metadata"><version>62.0</version></Package>',
});

let dir: string;
let org: SalesforceOrgDouble;
let edge: Edge;
let zips: Server;
let zipUrl: string;
const zipRequests: string[] = [];
const runners: { agent: Agent; exit: Promise<number> }[] = [];
let credentials: CredentialsConfig;

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), "sfp-zip-url-"));
  org = await startSalesforceOrg();
  credentials = { provider: "local", file: join(dir, "credentials.json"), key: `local-key-${crypto.randomUUID()}` };
  zips = createServer((req, res) => {
    zipRequests.push(req.url ?? "");
    res.writeHead(200, { "content-type": "application/zip" });
    res.end(ZIP);
  });
  await new Promise<void>((resolve) => zips.listen(0, "127.0.0.1", resolve));
  zipUrl = `http://127.0.0.1:${(zips.address() as AddressInfo).port}/build/7.zip`;
  edge = await startEdge({ vars: { LEASE_SECONDS: "20", POLL_WAIT_SECONDS: "5" } });
}, 180_000);

afterAll(async () => {
  for (const r of runners) r.agent.cancelAll("test over");
  await Promise.all(runners.map((r) => r.exit));
  await edge?.stop();
  zips?.closeAllConnections();
  zips?.close();
  await org?.close();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

/** A project with the demo org and a manager configured from `env` as `node runner/main.ts` would be. */
async function projectWithRunner(name: string, env: Record<string, string>): Promise<EdgeClient & { project: string }> {
  const created = await createProject(edge, name);
  const api = Object.assign(new EdgeClient(edge.url, created.ownerToken), { project: created.project });
  await api.request("PUT", `/v1/projects/${created.project}/orgs/demo`, { body: {} });
  await registerOrg({ alias: "demo", sfdxAuthUrl: org.authUrl, config: credentials, project: created.project });
  const { body } = await api.request<{ token: string }>("POST", `/v1/projects/${created.project}/registration-tokens`, { body: { pool: "default" } });
  const config = configFromEnv({
    SFP_EDGE_URL: edge.url,
    SFP_REGISTRATION_TOKEN: body.token,
    SFP_RUNNER_NAME: name,
    SFP_RUNNER_STATE_FILE: join(dir, `${name}-state.json`),
    SFP_RUNNER_LISTEN: "127.0.0.1:0",
    ...env,
  });
  const agent = new Agent({ config, log: createLogger({ level: "warn", write: () => {} }), metrics: new Metrics(), credentials: storeBroker(credentials) });
  runners.push({ agent, exit: agent.run() });
  return api;
}

async function deployToEnd(api: EdgeClient & { project: string }): Promise<Task> {
  const { body } = await api.request<{ task: Task }>("POST", `/v1/projects/${api.project}/tasks`, {
    body: { type: "deploy", org: "demo", maxAttempts: 1, payload: { zipUrl } },
  });
  let task = body.task;
  const deadline = Date.now() + 150_000;
  while (!["succeeded", "failed", "canceled"].includes(task.status)) {
    if (Date.now() > deadline) throw new Error(`task ${task.id} did not end; last seen ${task.status}`);
    task = (await api.request<{ task: Task }>("GET", `/v1/tasks/${task.id}?wait=10&version=${task.version}`)).body.task;
  }
  return task;
}

describe("a deploy's zipUrl on loopback", () => {
  it("is refused by a runner without the local-development setting, which never connects to it", async () => {
    const api = await projectWithRunner("strict-runner", {});
    zipRequests.length = 0;
    const task = await deployToEnd(api);
    expect(task.status).toBe("failed");
    expect(task.error?.code).toBe("zip_unavailable");
    expect(task.error?.message).toMatch(/not https; only https is fetched/);
    expect(zipRequests).toEqual([]);
  }, 180_000);

  it("is downloaded and deployed by a runner started with SFP_ALLOW_LOOPBACK_HTTP", async () => {
    const api = await projectWithRunner("dev-runner", { SFP_ALLOW_LOOPBACK_HTTP: "true" });
    zipRequests.length = 0;
    const task = await deployToEnd(api);
    expect(task.status).toBe("succeeded");
    expect(zipRequests).toEqual(["/build/7.zip"]);
    expect(org.requests.some((r) => r.body.includes(`<ZipFile>${ZIP.toString("base64")}</ZipFile>`))).toBe(true);
  }, 180_000);
});
