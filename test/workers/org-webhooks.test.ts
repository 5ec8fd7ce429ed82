// Webhook-made tasks and the org lock (issue 13): a deploy a rule makes waits for its org's lock like
// any other (its ingest shard hands it to its own actor, which asks the lock, not to the queue), and a
// rule marked `validate-only` makes its deploy to a protected org a validate.
import { env } from "cloudflare:test";
import { describe, expect, it, vi } from "vitest";
import { ingestShardOf } from "../../protocol/index.ts";
import { api, createTask, ingestSettled, newProject, putOrg } from "./helpers.ts";
import { events, line, orgActor, until } from "./org-lock-helpers.ts";
import { dispatcher, readTask } from "./runner-helpers.ts";
import { deliver, GITHUB_SECRET, githubSignature, putSource } from "./webhooks-helpers.ts";
import push from "../fixtures/webhooks/github-push.json?raw";

/** A push delivery; `after` makes a distinct push (the same body again would be a replay). */
async function pushDelivery(sourceId: string, delivery: string, after?: string) {
  const body = after === undefined ? push : JSON.stringify({ ...JSON.parse(push), after });
  const headers = {
    "content-type": "application/json",
    "x-github-event": "push",
    "x-github-delivery": delivery,
    "x-hub-signature-256": await githubSignature(body),
  };
  return deliver(sourceId, body, headers);
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

  it("asks the line for a batch itself: the shard keeps each task's place until its actor starts, whose history shows the wait", async () => {
    const { project, owner } = await newProject();
    await putOrg(project, owner, "uat");
    const holder = await createTask(project, owner, { org: "uat" });
    const source = await putSource(project, owner, "gh", { kind: "github", secret: GITHUB_SECRET, rules: [{ on: "push", task: { ...DEPLOY, org: "uat" } }] });
    const ids: string[] = [];
    // One at a time, each handed over before the next: no later task joins ahead of an earlier one
    // (which would move it, and its actor would hear of it).
    for (const d of ["a", "b", "c"]) {
      ids.push(...((await pushDelivery(source.id, `d-${d}`, d.repeat(40))).json.tasks ?? []));
      await ingestSettled();
    }
    const inLine = (await line(project, "uat")).map((r) => r.taskId);
    expect(inLine[0]).toBe(holder.id);
    expect(inLine.slice(1)).toEqual(ids);
    const placeOf = (id: string) => inLine.indexOf(id);
    // No task actor has started: the shard holds each task, marked as asked, with its place.
    for (const id of ids) {
      const shard = ingestShardOf(id);
      if (shard === null) throw new Error("a webhook task id names its shard");
      const held = await env.INGEST.get(env.INGEST.idFromName(`ingest-${shard}`)).peek(id);
      expect(held?.lockAsked).toBe(true);
      expect(JSON.parse(held?.body ?? "{}").waitingFor).toEqual({ org: "uat", position: placeOf(id), holder: holder.id });
    }
    const list = await api("GET", `/v1/projects/${project}/tasks`, { token: owner });
    for (const id of ids) expect(list.body.tasks.find((t: { id: string }) => t.id === id)?.waitingFor?.position).toBe(placeOf(id));
    // Its actor takes the place over, with the wait in its events, and the line is not asked again.
    const last = inLine[3];
    expect((await readTask(owner, last)).waitingFor).toEqual({ org: "uat", position: 3, holder: holder.id });
    expect((await events(owner, last)).filter((e) => e.type === "lock")).toEqual([
      expect.objectContaining({ state: "waiting", position: 3, holder: holder.id }),
    ]);
    expect((await line(project, "uat")).map((r) => r.taskId)).toEqual(inLine);
  });

  it("keeps a task that left the line out of it when a retried hand-off asks for it again", async () => {
    const { project, owner } = await newProject();
    await putOrg(project, owner, "uat");
    const holder = await createTask(project, owner, { org: "uat" });
    const waiter = await createTask(project, owner, { org: "uat" });
    expect((await api("POST", `/v1/tasks/${waiter.id}/cancel`, { token: owner })).status).toBeLessThan(300);
    await vi.waitFor(async () => expect((await line(project, "uat")).map((r) => r.taskId)).toEqual([holder.id]));
    const req = { project, org: "uat", taskId: waiter.id, priority: waiter.priority, createdAt: waiter.createdAt, approved: false };
    expect(await orgActor(project, "uat").requestMany(project, "uat", [req])).toEqual({});
    expect((await line(project, "uat")).map((r) => r.taskId)).toEqual([holder.id]);
    expect((await readTask(owner, waiter.id)).status).toBe("canceled");
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
