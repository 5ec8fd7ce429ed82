// A pull request validated at its head commit, end to end (issue 12): a signed GitHub
// `pull_request.opened` → the edge's rule templates the clone URL and head sha into `source` → a real
// `node runner/main.ts` manager and worker fetch that commit from a real git server (token from the
// runners' store), convert it and validate it against the Salesforce double → succeeded, as the
// `sfp-edge task watch` a user runs shows it.
import { createHmac } from "node:crypto";
import { mkdtempSync, rmSync } from "node:fs";
import { join } from "node:path";
import { tmpdir } from "node:os";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { EdgeClient } from "../../protocol/client.ts";
import type { Task } from "../../protocol/index.ts";
import { registerOrg, registerRepo } from "../../runner/credentials/index.ts";
import { FIXTURE_COMPONENTS, type FixtureServer, startFixtureServer, TOKEN } from "../../runner/source/testing.ts";
import { startSalesforceOrg, type SalesforceOrgDouble } from "../doubles/salesforce-org.ts";
import { cli, startCli } from "./cli-process.ts";
import { createProject, startEdge, type Edge } from "./edge-process.ts";
import { killAllManagers, startManager } from "./manager-process.ts";

const STEP_MS = 90_000;
const CREDENTIALS_KEY = `e2e-source-store-key-${crypto.randomUUID()}`;
const WEBHOOK_SECRET = `github-webhook-secret-${crypto.randomUUID()}`;

let root: string;
let fx: FixtureServer;
let org: SalesforceOrgDouble;
let edge: Edge;
let project: string;
let api: EdgeClient;
let hookUrl: string;
let configDir: string;

beforeAll(async () => {
  root = mkdtempSync(join(tmpdir(), "sfp-e2e-source-"));
  [fx, org, edge] = await Promise.all([startFixtureServer(), startSalesforceOrg(), startEdge()]);
  org.controls.deployPolls = 1;
  let owner: string;
  ({ project, ownerToken: owner } = await createProject(edge, "e2e-source"));
  api = new EdgeClient(edge.url, owner);
  await api.request("PUT", `/v1/projects/${project}/orgs/uat`, { body: { orgId: org.orgId } });
  const store = { provider: "local" as const, file: join(root, "store", "credentials.json"), key: CREDENTIALS_KEY };
  await registerOrg({ alias: "uat", sfdxAuthUrl: org.authUrl, project, config: store });
  await registerRepo({ url: fx.url, credential: { token: TOKEN }, project, config: store });

  const { body: reg } = await api.request<{ token: string }>("POST", `/v1/projects/${project}/registration-tokens`, { body: { pool: "default" } });
  const manager = startManager({
    edgeUrl: edge.url,
    registrationToken: reg.token,
    name: "e2e-source",
    dir: mkdtempSync(join(root, "manager-")),
    credentialsFile: store.file,
    credentialsKey: CREDENTIALS_KEY,
    // The fixture's git server is plain http on loopback, as in local development.
    env: { SFP_SOURCE_ALLOW_LOCAL_HTTP: "true", SFP_SOURCE_CACHE_DIR: join(root, "source-cache") },
  });
  await manager.waitForLog("registered", STEP_MS);

  // The README's rule: validate every pull request's head commit.
  const { body: put } = await api.request<{ source: { url: string } }>("PUT", `/v1/projects/${project}/webhook-sources/github-prs`, {
    body: {
      kind: "github",
      secret: WEBHOOK_SECRET,
      rules: [
        {
          on: "pull_request.opened",
          task: {
            type: "validate",
            org: "uat",
            payload: { source: { repo: "{{pull_request.head.repo.clone_url}}", ref: "{{pull_request.head.sha}}" }, testLevel: "RunLocalTests" },
          },
        },
      ],
    },
  });
  hookUrl = `${edge.url}${put.source.url}`;
  configDir = mkdtempSync(join(root, "cli-"));
  const login = await cli(["--config-dir", configDir, "login", "--url", edge.url, "--project", project, "--token", owner]);
  if (login.code !== 0) throw new Error(`login failed: ${login.stderr}`);
}, 240_000);

afterAll(async () => {
  await killAllManagers();
  await Promise.all([edge?.stop(), org?.close(), fx?.close()]);
  if (root) rmSync(root, { recursive: true, force: true });
});

/** A pull request opened on the fixture repository, signed as GitHub signs it; answers the task it made. */
async function pullRequestOpened(headSha: string): Promise<string> {
  const body = JSON.stringify({
    action: "opened",
    number: 42,
    pull_request: { number: 42, head: { sha: headSha, ref: "main", repo: { full_name: "acme/crm", clone_url: fx.url } }, base: { ref: "release" } },
    repository: { full_name: "acme/crm", clone_url: fx.url },
  });
  const res = await fetch(hookUrl, {
    method: "POST",
    headers: {
      "content-type": "application/json",
      "x-github-event": "pull_request",
      "x-github-delivery": crypto.randomUUID(),
      "x-hub-signature-256": `sha256=${createHmac("sha256", WEBHOOK_SECRET).update(body).digest("hex")}`,
    },
    body,
  });
  expect(res.status).toBe(202);
  const { tasks } = (await res.json()) as { tasks: string[] };
  expect(tasks).toHaveLength(1);
  return tasks[0];
}

describe("a pull request validated at its head commit, end to end", { timeout: 4 * STEP_MS }, () => {
  it("validates exactly the head commit from the repository and succeeds, as sfp-edge task watch shows", async () => {
    const deploysBefore = org.deployIds().length;
    const id = await pullRequestOpened(fx.v2);
    const watch = startCli(["--config-dir", configDir, "task", "watch", id]);
    expect(await watch.exit).toBe(0);
    expect(watch.stdout()).toMatch(/\[status\] queued[\s\S]*\[status\] running[\s\S]*\[status\] succeeded/);
    expect(watch.stdout()).toContain(`is commit ${fx.v2}`);
    expect(watch.stdout()).toContain(`task ${id} succeeded`);

    const done = (await api.request<{ task: Task }>("GET", `/v1/tasks/${id}`)).body.task;
    expect(done).toMatchObject({ status: "succeeded", type: "validate", source: { kind: "webhook", event: "pull_request.opened" } });
    expect(done.payload).toEqual({ source: { repo: fx.url, ref: fx.v2 }, testLevel: "RunLocalTests" });
    expect(done.result).toMatchObject({ status: "Succeeded", checkOnly: true, source: { sha: fx.v2, repo: fx.url } });

    // What reached Salesforce: one check-only deploy of the project at v2 (v1's components, the
    // legacy helper gone, the new field in), converted from source by the worker.
    const ids = org.deployIds().slice(deploysBefore);
    expect(ids).toHaveLength(1);
    const held = org.deployComponents(ids[0]);
    const classes = held.filter((c) => c.componentType === "ApexClass").map((c) => c.fullName);
    expect(classes.sort()).toEqual(FIXTURE_COMPONENTS.ApexClass.filter((c) => c !== "LegacyInvoiceHelper"));
    expect(held.some((c) => c.componentType === "CustomField" && c.fullName === "Invoice__c.Status__c")).toBe(true);
    // The repository token reached git alone: not the task, its events or the CLI's output.
    const events = await api.request<{ events: unknown[] }>("GET", `/v1/tasks/${id}/events?limit=1000`);
    expect(JSON.stringify(events.body) + JSON.stringify(done) + watch.stdout()).not.toContain(TOKEN);
  });
});
