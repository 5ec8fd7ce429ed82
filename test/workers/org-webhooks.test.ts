// Webhook-made tasks and the org lock (issue 13): a deploy a rule makes waits for its org's lock like
// any other (its ingest shard hands it to its own actor, which asks the lock, not to the queue), and a
// rule marked `validate-only` makes its deploy to a protected org a validate.
import { describe, expect, it } from "vitest";
import { api, createTask, ingestSettled, newProject, putOrg } from "./helpers.ts";
import { line, until } from "./org-lock-helpers.ts";
import { dispatcher, readTask } from "./runner-helpers.ts";
import { deliver, GITHUB_SECRET, githubSignature, putSource } from "./webhooks-helpers.ts";
import push from "../fixtures/webhooks/github-push.json?raw";

async function pushDelivery(sourceId: string, delivery: string) {
  const headers = {
    "content-type": "application/json",
    "x-github-event": "push",
    "x-github-delivery": delivery,
    "x-hub-signature-256": await githubSignature(push),
  };
  return deliver(sourceId, push, headers);
}

const DEPLOY = { type: "deploy", payload: { zipUrl: "https://ci.example/x.zip" } };

describe("webhook tasks at the org lock", () => {
  it("queues a webhook deploy behind the org's holder instead of handing it to the dispatcher", async () => {
    const { project, owner } = await newProject();
    await putOrg(project, owner, "uat");
    const holder = await createTask(project, owner, { org: "uat" });
    const source = await putSource(project, owner, "gh", { kind: "github", secret: GITHUB_SECRET, rules: [{ on: "push", task: { ...DEPLOY, org: "uat" } }] });
    const res = await pushDelivery(source.id, "d-1");
    expect(res.status).toBe(202);
    const [taskId] = res.json.tasks ?? [];
    await ingestSettled();
    const task = await until(owner, taskId, (t) => t.waitingFor !== undefined, "in line");
    expect(task.waitingFor).toEqual({ org: "uat", position: 1, holder: holder.id });
    expect(await dispatcher(project).queued()).toEqual([holder.id]);
    expect((await line(project, "uat")).map((r) => r.taskId)).toEqual([holder.id, taskId]);
  });

  it("makes a deploy to a protected org a validate under validate-only, and lets it await approval otherwise", async () => {
    const { project, owner } = await newProject();
    await putOrg(project, owner, "prod", { isProduction: true });
    const rules = [
      { on: "push", task: { ...DEPLOY, org: "prod", protectedOrg: "validate-only" } },
      { on: "push", task: { ...DEPLOY, org: "prod" } },
    ];
    const source = await putSource(project, owner, "gh", { kind: "github", secret: GITHUB_SECRET, rules });
    const res = await pushDelivery(source.id, "d-2");
    const [validateOnly, approve] = res.json.tasks ?? [];
    expect((await readTask(owner, validateOnly)).type).toBe("validate");
    const awaiting = await until(owner, approve, (t) => t.status === "awaiting_approval", "awaiting approval");
    expect(awaiting.type).toBe("deploy");
  });

  it("keeps a deploy a deploy under validate-only when the org is not protected", async () => {
    const { project, owner } = await newProject();
    await putOrg(project, owner, "uat");
    const source = await putSource(project, owner, "gh", {
      kind: "github",
      secret: GITHUB_SECRET,
      rules: [{ on: "push", task: { ...DEPLOY, org: "uat", protectedOrg: "validate-only" } }],
    });
    const res = await pushDelivery(source.id, "d-3");
    expect((await readTask(owner, res.json.tasks?.[0] ?? "")).type).toBe("deploy");
  });

  it("refuses validate-only on a rule that is not a deploy or validate, and an unknown mode, with 400 naming the field", async () => {
    const { project, owner } = await newProject();
    await putOrg(project, owner, "prod", { isProduction: true });
    for (const task of [
      { type: "quick-deploy", org: "prod", protectedOrg: "validate-only" },
      { type: "deploy", org: "prod", protectedOrg: "sometimes" },
    ]) {
      const res = await api("PUT", `/v1/projects/${project}/webhook-sources/gh`, {
        token: owner,
        body: { kind: "github", secret: GITHUB_SECRET, rules: [{ on: "push", task }] },
      });
      expect(res.status).toBe(400);
      expect(res.body.error).toMatchObject({ code: "invalid_request", field: "rules[0].task.protectedOrg" });
    }
  });
});
