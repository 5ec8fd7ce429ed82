// A pull request validated at its head commit, end to end (issue 12): a signed GitHub
// `pull_request.opened` → the edge's rule templates the clone URL and head sha into `source` → a real
// `node runner/main.ts` manager and worker fetch that commit from a real git server (token from the
// runners' store), convert it and validate it against the Salesforce double → succeeded, as the
// `sfp-edge task watch` a user runs shows it.
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { Task } from "../../protocol/index.ts";
import { registerRepo } from "../../runner/credentials/index.ts";
import { FIXTURE_COMPONENTS, type FixtureServer, startFixtureServer, TOKEN } from "../../runner/source/testing.ts";
import { startCli } from "./cli-process.ts";
import { deliverGithub, STEP_MS, type Stack, startStack } from "./stack.ts";

const WEBHOOK_SECRET = `github-webhook-secret-${crypto.randomUUID()}`;

let fx: FixtureServer;
let stack: Stack;
let hookUrl: string;

beforeAll(async () => {
  fx = await startFixtureServer();
  stack = await startStack({
    name: "e2e-source",
    orgs: { uat: {} },
    // The fixture's git server is plain http on loopback, as in local development.
    managerEnv: { SFP_SOURCE_ALLOW_LOCAL_HTTP: "true", SFP_SOURCE_CACHE_DIR: join(tmpdir(), `sfp-e2e-source-cache-${crypto.randomUUID()}`) },
    prepare: ({ project, store }) => registerRepo({ url: fx.url, credential: { token: TOKEN }, project, config: store }).then(() => undefined),
  });
  // The README's rule: validate every pull request's head commit.
  const { body: put } = await stack.api.request<{ source: { url: string } }>("PUT", `/v1/projects/${stack.project}/webhook-sources/github-prs`, {
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
  hookUrl = `${stack.edge.url}${put.source.url}`;
}, 240_000);

afterAll(async () => {
  await Promise.all([stack?.stop(), fx?.close()]);
});

/** A pull request opened on the fixture repository, signed as GitHub signs it; answers the task it made. */
async function pullRequestOpened(headSha: string): Promise<string> {
  const body = JSON.stringify({
    action: "opened",
    number: 42,
    pull_request: { number: 42, head: { sha: headSha, ref: "main", repo: { full_name: "acme/crm", clone_url: fx.url } }, base: { ref: "release" } },
    repository: { full_name: "acme/crm", clone_url: fx.url },
  });
  const res = await deliverGithub(hookUrl, WEBHOOK_SECRET, "pull_request", body);
  expect(res.status).toBe(202);
  const { tasks } = (await res.json()) as { tasks: string[] };
  expect(tasks).toHaveLength(1);
  return tasks[0];
}

describe("a pull request validated at its head commit, end to end", { timeout: 4 * STEP_MS }, () => {
  it("validates exactly the head commit from the repository and succeeds, as sfp-edge task watch shows", async () => {
    const { org, api, configDir } = stack;
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
