// GitLab deliveries: X-Gitlab-Token equals the secret (constant time); event = object_kind (+ action);
// delivery id = Idempotency-Key (kept across GitLab's retries) or X-Gitlab-Event-UUID.
import { env } from "cloudflare:test";
import { describe, expect, it } from "vitest";
import { webhookTaskId } from "../../common/task-ids.ts";
import { newToken, setup } from "./helpers.ts";
import { deliver, getTask, GITLAB_SECRET, listTasks, putSource } from "./webhooks-helpers.ts";
import mergeRequest from "../fixtures/webhooks/gitlab-merge-request-hook.json?raw";
import push from "../fixtures/webhooks/gitlab-push-hook.json?raw";

const RULES = [
  {
    on: "push",
    if: { ref: "refs/heads/main", ref_protected: "true" },
    task: { type: "deploy", org: "demo", payload: { zipUrl: "https://ci.example/{{project.path_with_namespace}}/{{checkout_sha}}.zip" } },
  },
  {
    on: "merge_request.open",
    if: { "object_attributes.target_branch": "main" },
    task: { type: "validate", org: "demo", payload: { zipUrl: "https://ci.example/mr/{{object_attributes.iid}}.zip" } },
  },
  { on: "merge_request", task: { type: "org-check", org: "demo" } },
];

async function world() {
  const { project, owner } = await setup();
  const source = await putSource(project, owner, "gitlab", { kind: "gitlab", secret: GITLAB_SECRET, rules: RULES });
  return { project, viewer: (await newToken(project, owner, "viewer")).token, source };
}

function gitlabHeaders(event: string, uuid: string, extra: Record<string, string> = {}) {
  return {
    "content-type": "application/json",
    "user-agent": "GitLab/17.9.0",
    "x-gitlab-event": event,
    "x-gitlab-event-uuid": uuid,
    "x-gitlab-webhook-uuid": "2f4e0c9a-6a3c-4a8e-9a55-1c3f0b8b7e21",
    "x-gitlab-instance": "https://gitlab.com",
    "x-gitlab-token": GITLAB_SECRET,
    ...extra,
  };
}

describe("GitLab deliveries", () => {
  it("turn a Push Hook with the right token into the mapped task", async () => {
    const { viewer, source } = await world();
    const uuid = "4e7b2a91-3c0d-4f6e-8a1b-9d2c5e7f0a13";
    const res = await deliver(source.id, push, gitlabHeaders("Push Hook", uuid));
    expect(res.status).toBe(202);
    expect(res.json.tasks).toEqual([await webhookTaskId(env.TOKEN_SIGNING_KEY, source.id, uuid, 0)]);
    const { task } = await getTask(res.json.tasks![0], viewer);
    expect(task).toMatchObject({
      type: "deploy",
      status: "queued",
      payload: { zipUrl: "https://ci.example/acme-dx%2Fsalesforce-app/b6568db1bc1dcd7f8b4d5a946b0b91f9dacd7327.zip" },
      source: { kind: "webhook", event: "push", deliveryId: uuid, rule: 0 },
    });
  });

  it("map a Merge Request Hook as merge_request.<action> to every matching rule", async () => {
    const { viewer, source } = await world();
    const res = await deliver(source.id, mergeRequest, gitlabHeaders("Merge Request Hook", "mr-uuid-1"));
    expect(res.status).toBe(202);
    expect(res.json.tasks).toHaveLength(2);
    const [validate, check] = await Promise.all(res.json.tasks!.map((id) => getTask(id, viewer)));
    expect(validate.task).toMatchObject({
      type: "validate",
      payload: { zipUrl: "https://ci.example/mr/17.zip" },
      source: { event: "merge_request.open", rule: 1 },
    });
    expect(check.task).toMatchObject({ type: "org-check", source: { rule: 2 } });
  });

  it("use Idempotency-Key as the delivery id when GitLab sends one, so a retry with a new event UUID is still a duplicate", async () => {
    const { project, viewer, source } = await world();
    const first = await deliver(source.id, push, gitlabHeaders("Push Hook", "uuid-a", { "idempotency-key": "9a3b7c1d-retry-key" }));
    const retry = await deliver(source.id, push, gitlabHeaders("Push Hook", "uuid-b", { "idempotency-key": "9a3b7c1d-retry-key" }));
    expect(first.status).toBe(202);
    expect(retry.status).toBe(200);
    expect(retry.json).toEqual({ deliveryId: "9a3b7c1d-retry-key", duplicate: true, tasks: first.json.tasks });
    expect(await listTasks(project, viewer)).toHaveLength(1);
  });

  it.each([
    ["a wrong token", { "x-gitlab-token": "gl-webhook-token-0123456780" }],
    ["a token that is a prefix of the secret", { "x-gitlab-token": GITLAB_SECRET.slice(0, -1) }],
    ["an empty token", { "x-gitlab-token": "" }],
  ])("answer 401 and make no task for %s", async (_name, override) => {
    const { project, viewer, source } = await world();
    const res = await deliver(source.id, push, { ...gitlabHeaders("Push Hook", "u-1"), ...override });
    expect(res.status).toBe(401);
    expect(res.json.error?.code).toBe("bad_signature");
    expect(await listTasks(project, viewer)).toHaveLength(0);
  });

  it("answer 401 and make no task when X-Gitlab-Token is missing", async () => {
    const { project, viewer, source } = await world();
    const headers: Record<string, string> = gitlabHeaders("Push Hook", "u-2");
    delete headers["x-gitlab-token"];
    const res = await deliver(source.id, push, headers);
    expect(res.status).toBe(401);
    expect(await listTasks(project, viewer)).toHaveLength(0);
  });

  it("answer 400 when the event UUID is missing", async () => {
    const { source } = await world();
    const headers: Record<string, string> = gitlabHeaders("Push Hook", "u-3");
    delete headers["x-gitlab-event-uuid"];
    const res = await deliver(source.id, push, headers);
    expect(res.status).toBe(400);
    expect(res.json.error?.message).toContain("x-gitlab-event-uuid");
  });

  it("answer a re-delivery with 200, duplicate: true and the same ids", async () => {
    const { project, viewer, source } = await world();
    const first = await deliver(source.id, mergeRequest, gitlabHeaders("Merge Request Hook", "mr-again"));
    const again = await deliver(source.id, mergeRequest, gitlabHeaders("Merge Request Hook", "mr-again"));
    expect(first.status).toBe(202);
    expect(again).toMatchObject({ status: 200, json: { duplicate: true, tasks: first.json.tasks } });
    expect(await listTasks(project, viewer)).toHaveLength(2);
  });

  it("make exactly one task set from 20 concurrent copies", async () => {
    const { project, viewer, source } = await world();
    const answers = await Promise.all(Array.from({ length: 20 }, () => deliver(source.id, mergeRequest, gitlabHeaders("Merge Request Hook", "mr-storm"))));
    for (const a of answers) expect(a.json.tasks).toEqual(answers[0].json.tasks);
    expect(await listTasks(project, viewer)).toHaveLength(2);
  });
});
