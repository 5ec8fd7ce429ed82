// The org lock and approvals with every part real (issue 13): the edge in workerd, a `node
// runner/main.ts` manager with two slots and its workers, the Salesforce org double reached through
// jsforce, and the `sfp-edge` CLI. Two deploys to one org never overlap in the double's call log, and
// the second shows position 1 while the first runs; deploys to two orgs overlap; a deploy to a
// protected org waits until the CLI approves it.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { EdgeClient } from "../../protocol/client.ts";
import type { Task } from "../../protocol/index.ts";
import { metadataZip } from "../doubles/salesforce-fixtures.ts";
import type { SalesforceOrgDouble } from "../doubles/salesforce-org.ts";
import { cli, startCli } from "./cli-process.ts";
import type { Edge } from "./edge-process.ts";
import { waitFor } from "./manager-process.ts";
import { STEP_MS, type Stack, startStack } from "./stack.ts";

const ZIP = metadataZip().toString("base64");
/** Status checks a deploy stays InProgress: in effect until the test lowers it again. */
const HOLD = 1_000_000;

let stack: Stack;
let org: SalesforceOrgDouble;
let edge: Edge;
let project: string;
let owner: string;
let api: EdgeClient;
let configDir: string;

beforeAll(async () => {
  // Three aliases on the one double: to the edge they are three orgs, one of them production.
  stack = await startStack({
    name: "org-lock",
    orgs: { demo: {}, uat: {}, prod: { isProduction: true } },
    managerEnv: { SFP_RUNNER_SLOTS: "2" },
  });
  ({ org, edge, project, owner, api, configDir } = stack);
}, 240_000);

afterAll(() => stack?.stop());

async function deploy(alias: string, token = owner): Promise<Task> {
  const { body } = await api.request<{ task: Task }>("POST", `/v1/projects/${project}/tasks`, {
    token,
    body: { type: "deploy", org: alias, payload: { zipBase64: ZIP } },
  });
  return body.task;
}

async function read(id: string): Promise<Task> {
  return (await api.request<{ task: Task }>("GET", `/v1/tasks/${id}`)).body.task;
}

/**
 * Each deploy's span in the double's call log, as positions in the order requests arrived: from its
 * `deploy` call to the last status check of its id. Two spans overlap when one starts before the other ended.
 */
function spans(): { id: string; start: number; end: number }[] {
  const starts = org.requests.flatMap((r, i) => (/<(\w+:)?deploy[ >]/.test(r.body) ? [i] : []));
  return org.deployIds().map((id, k) => {
    const checks = org.requests.flatMap((r, i) => (r.body.includes("checkDeployStatus") && r.body.includes(id) ? [i] : []));
    return { id, start: starts[k], end: Math.max(starts[k], ...checks) };
  });
}

function overlap(a: { start: number; end: number }, b: { start: number; end: number }): boolean {
  return a.start < b.end && b.start < a.end;
}

describe("the org lock with a real runner and the Salesforce double", () => {
  it("never overlaps two deploys to one org; the second waits at position 1, shown by the CLI, until the first ends", async () => {
    const before = org.deployIds().length;
    org.controls.deployPolls = HOLD;
    const [first, second] = await Promise.all([deploy("demo"), deploy("demo")]);
    // Whichever reached the lock first holds it; the other waits, and the manager's second slot stays idle for it.
    const [holder, waiter] = first.waitingFor ? [second, first] : [first, second];
    await waitFor(async () => (await read(holder.id)).status === "running" && org.deployIds().length > before, STEP_MS, "the holder deploying");
    expect((await read(waiter.id)).waitingFor).toEqual({ org: "demo", position: 1, holder: holder.id });
    const get = await cli(["--config-dir", configDir, "task", "get", waiter.id]);
    expect(get.stdout).toContain(`waiting for org demo: position 1, held by ${holder.id}`);
    const watch = startCli(["--config-dir", configDir, "task", "watch", waiter.id]);
    await watch.waitFor(/\[lock\] waiting for org demo: position 1/, "stdout", STEP_MS);
    expect(org.deployIds().length).toBe(before + 1);

    org.controls.deployPolls = 1;
    expect(await watch.exit).toBe(0);
    expect(watch.stdout()).toContain("[lock] holds the lock of org demo");
    expect((await read(holder.id)).status).toBe("succeeded");
    expect((await read(waiter.id)).status).toBe("succeeded");
    const mine = spans().slice(before);
    expect(mine).toHaveLength(2);
    expect(overlap(mine[0], mine[1])).toBe(false);
  }, 240_000);

  it("runs deploys to two orgs at once: their spans overlap", async () => {
    const before = org.deployIds().length;
    org.controls.deployPolls = HOLD;
    const [a, b] = await Promise.all([deploy("demo"), deploy("uat")]);
    expect(a.waitingFor).toBeUndefined();
    expect(b.waitingFor).toBeUndefined();
    await waitFor(() => org.deployIds().length >= before + 2, STEP_MS, "both deploys submitted");
    org.controls.deployPolls = 1;
    await waitFor(async () => (await read(a.id)).status === "succeeded" && (await read(b.id)).status === "succeeded", STEP_MS, "both done");
    const mine = spans().slice(before);
    expect(overlap(mine[0], mine[1])).toBe(true);
  }, 240_000);

  it("holds a ci token's deploy to a protected org until `sfp-edge task approve`, then runs it", async () => {
    const { body: ci } = await api.request<{ token: string }>("POST", `/v1/projects/${project}/tokens`, { body: { name: "ci", role: "ci" } });
    const before = org.deployIds().length;
    const task = await deploy("prod", ci.token);
    expect(task.status).toBe("awaiting_approval");
    const get = await cli(["--config-dir", configDir, "task", "get", task.id]);
    expect(get.stdout).toContain("awaiting approval until");
    const refused = await cli(["task", "approve", task.id], { SFP_EDGE_URL: edge.url, SFP_EDGE_TOKEN: ci.token, SFP_EDGE_PROJECT: project });
    expect(refused.code).toBe(1);
    expect(refused.stderr).toContain("forbidden");
    expect(org.deployIds().length).toBe(before);
    const approved = await cli(["--config-dir", configDir, "task", "approve", task.id]);
    expect(approved.code).toBe(0);
    expect(approved.stdout).toContain(`approved ${task.id}`);
    await waitFor(async () => (await read(task.id)).status === "succeeded", STEP_MS, "the approved deploy to succeed");
    expect(org.deployIds().length).toBe(before + 1);
  }, 240_000);

  it("cancels a deploy to a protected org with `sfp-edge task reject`", async () => {
    const task = await deploy("prod");
    const rejected = await cli(["--config-dir", configDir, "--json", "task", "reject", task.id]);
    expect(rejected.code).toBe(0);
    expect(JSON.parse(rejected.stdout).task).toMatchObject({ status: "canceled", approval: { decision: "rejected" } });
  }, 120_000);
});
