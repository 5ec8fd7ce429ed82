// GitHub deliveries: X-Hub-Signature-256 over the raw body, event = X-GitHub-Event (+ action),
// delivery id = X-GitHub-Delivery. Payloads are the fixtures in test/fixtures/webhooks/.
import { env } from "cloudflare:test";
import { describe, expect, it, vi } from "vitest";
import { IngestActor } from "../../actors/ingest-actor.ts";
import { webhookTaskId } from "../../common/task-ids.ts";
import { sha256Hex } from "../../common/tokens.ts";
import { ingestSettled, newToken, openSocket, setup } from "./helpers.ts";
import { deliver, getTask, GITHUB_SECRET, githubSignature, listTasks, putSource } from "./webhooks-helpers.ts";
import ping from "../fixtures/webhooks/github-ping.json?raw";
import pullRequest from "../fixtures/webhooks/github-pull_request.opened.json?raw";
import push from "../fixtures/webhooks/github-push.json?raw";

const RULES = [
  {
    on: "push",
    if: { ref: "refs/heads/main" },
    task: {
      type: "validate",
      org: "demo",
      priority: "critical",
      payload: { zipUrl: "https://ci.example/{{repository.full_name}}/{{after}}.zip", testLevel: "RunLocalTests" },
    },
  },
  { on: "push", task: { type: "run-tests", org: "demo", pool: "ci", labels: ["from-github"], payload: { testLevel: "RunLocalTests" } } },
  {
    on: "pull_request.opened",
    if: { "pull_request.base.ref": "main", "pull_request.labels.0.name": "deploy:*" },
    task: { type: "validate", org: "demo", payload: { zipUrl: "https://ci.example/pr/{{number}}.zip", pr: "{{number}}" } },
  },
  { on: "pull_request.closed", task: { type: "deploy", org: "demo", payload: { zipUrl: "https://ci.example/x.zip" } } },
];

async function world() {
  const { project, owner } = await setup();
  const source = await putSource(project, owner, "github-main", { kind: "github", secret: GITHUB_SECRET, rules: RULES });
  const viewer = await newToken(project, owner, "viewer");
  return { project, owner, viewer: viewer.token, source };
}

async function githubHeaders(body: string, event: string, delivery: string, extra: Record<string, string> = {}) {
  return {
    "content-type": "application/json",
    "user-agent": "GitHub-Hookshot/6b02022",
    "x-github-event": event,
    "x-github-delivery": delivery,
    "x-github-hook-id": "512339871",
    "x-hub-signature-256": await githubSignature(body),
    ...extra,
  };
}

describe("GitHub deliveries", () => {
  it("turn a signed push into one queued task per matching rule, readable with a project token", async () => {
    const { project, viewer, source } = await world();
    const delivery = "72d3162e-cc78-11e3-81ab-4c9367dc0958";
    const res = await deliver(source.id, push, await githubHeaders(push, "push", delivery));
    expect(res.status).toBe(202);
    expect(res.json.deliveryId).toBe(delivery);
    // A GitHub delivery is recorded in the shard of its body (so that replays meet it), named in the id.
    const digest = await sha256Hex(push);
    const expected = [
      await webhookTaskId(env.TOKEN_SIGNING_KEY, source.id, delivery, 0, digest),
      await webhookTaskId(env.TOKEN_SIGNING_KEY, source.id, delivery, 1, digest),
    ];
    expect(res.json.tasks).toEqual(expected);
    expect(res.json.duplicate).toBeUndefined();

    const validate = await getTask(expected[0], viewer);
    expect(validate.status).toBe(200);
    expect(validate.task).toMatchObject({
      project,
      type: "validate",
      org: "demo",
      status: "queued",
      priority: "critical",
      pool: "default",
      payload: { zipUrl: "https://ci.example/acme-dx%2Fsalesforce-app/9b8c7d6e5f4a3b2c1d0e9f8a7b6c5d4e3f2a1b0c.zip", testLevel: "RunLocalTests" },
      // Tasks show the source's name and its reference (the id less its tag), never the id (issue 11).
      source: { kind: "webhook", sourceId: `${source.id.slice(0, -13)}…`, sourceName: source.name, deliveryId: delivery, event: "push", rule: 0 },
    });
    const tests = await getTask(expected[1], viewer);
    expect(tests.task).toMatchObject({ type: "run-tests", pool: "ci", labels: ["from-github"], source: { rule: 1 } });
    expect((await listTasks(project, viewer)).map((t) => t.id).sort()).toEqual([...expected].sort());
  });

  it("map pull_request.opened by event and action, with if-conditions on the payload", async () => {
    const { viewer, source } = await world();
    const res = await deliver(source.id, pullRequest, await githubHeaders(pullRequest, "pull_request", "b1f7c2a0-e8f1-11ef-9a51-3f4b8d2c7e11"));
    expect(res.status).toBe(202);
    expect(res.json.tasks).toHaveLength(1);
    const { task } = await getTask(res.json.tasks![0], viewer);
    expect(task).toMatchObject({
      type: "validate",
      payload: { zipUrl: "https://ci.example/pr/42.zip", pr: 42 },
      source: { event: "pull_request.opened", rule: 2 },
    });
  });

  it("show each new task on the project feed", async () => {
    const { project, owner, source } = await world();
    const { socket } = await openSocket(`/v1/projects/${project}/ws`, owner);
    expect(socket).not.toBeNull();
    await socket!.until((m) => m.some((x) => x.type === "hello"));
    const res = await deliver(source.id, push, await githubHeaders(push, "push", "feed-delivery-1"));
    expect(res.status).toBe(202);
    const seen = await socket!.until((m) => res.json.tasks!.every((id) => m.some((x) => x.type === "task" && x.task.id === id)));
    expect(seen.filter((x) => x.type === "task").map((x) => x.task.status)).toContain("queued");
    socket!.close();
  });

  it("answer a ping with 200 and make no task", async () => {
    const { project, viewer, source } = await world();
    const res = await deliver(source.id, ping, await githubHeaders(ping, "ping", "ping-delivery-1"));
    expect(res.status).toBe(200);
    expect(res.json).toEqual({ deliveryId: "ping-delivery-1", tasks: [] });
    expect(await listTasks(project, viewer)).toHaveLength(0);
  });

  it("answer 200 with no tasks when no rule matches", async () => {
    const { project, viewer, source } = await world();
    const body = JSON.stringify({ action: "created", issue: { number: 1 } });
    const res = await deliver(source.id, body, await githubHeaders(body, "issues", "issue-delivery-1"));
    expect(res.status).toBe(200);
    expect(res.json).toEqual({ deliveryId: "issue-delivery-1", tasks: [] });
    expect(await listTasks(project, viewer)).toHaveLength(0);
  });

  it("accept form-encoded deliveries (payload=<json>), signed over the form", async () => {
    const { source } = await world();
    const form = new URLSearchParams({ payload: push }).toString();
    const res = await deliver(source.id, form, await githubHeaders(form, "push", "form-delivery-1", { "content-type": "application/x-www-form-urlencoded" }));
    expect(res.status).toBe(202);
    expect(res.json.tasks).toHaveLength(2);
  });

  describe("answer 401 bad_signature and make no task for", () => {
    const cases: [string, (h: Record<string, string>) => Promise<[string, Record<string, string>]>][] = [
      ["a signature made with another secret", async (h) => [push, { ...h, "x-hub-signature-256": await githubSignature(push, "not-the-secret-at-all") }]],
      ["a missing X-Hub-Signature-256", async (h) => [push, Object.fromEntries(Object.entries(h).filter(([k]) => k !== "x-hub-signature-256"))]],
      ["a tampered body", async (h) => [push.replace("refs/heads/main", "refs/heads/evil"), h]],
      ["a truncated signature", async (h) => [push, { ...h, "x-hub-signature-256": h["x-hub-signature-256"].slice(0, -2) }]],
      ["a non-hex signature", async (h) => [push, { ...h, "x-hub-signature-256": `sha256=${"zz".repeat(32)}` }]],
      ["a sha1 signature", async (h) => [push, { ...h, "x-hub-signature-256": h["x-hub-signature-256"].replace("sha256=", "sha1=") }]],
      ["an empty signature", async (h) => [push, { ...h, "x-hub-signature-256": "" }]],
    ];
    it.each(cases)("%s", async (_name, mutate) => {
      const { project, viewer, source } = await world();
      const [body, headers] = await mutate(await githubHeaders(push, "push", "bad-delivery-1"));
      const res = await deliver(source.id, body, headers);
      expect(res.status).toBe(401);
      expect(res.json.error?.code).toBe("bad_signature");
      expect(res.json.error?.requestId).toBeTruthy();
      expect(await listTasks(project, viewer)).toHaveLength(0);
    });
  });

  it.each(["x-github-event", "x-github-delivery"])("answer 400 naming %s when a signed delivery lacks it", async (header) => {
    const { source } = await world();
    const headers = await githubHeaders(push, "push", "d-1");
    delete (headers as Record<string, string>)[header];
    const res = await deliver(source.id, push, headers);
    expect(res.status).toBe(400);
    expect(res.json.error?.message).toContain(header);
  });

  it("answer 400 to a correctly signed body that is not JSON", async () => {
    const { source } = await world();
    const body = "{not json";
    const res = await deliver(source.id, body, await githubHeaders(body, "push", "d-2"));
    expect(res.status).toBe(400);
    expect(res.json.error?.code).toBe("invalid_json");
  });

  it("answer a re-delivery with 200, duplicate: true and the same task ids", async () => {
    const { project, viewer, source } = await world();
    const headers = await githubHeaders(push, "push", "redelivered-1");
    const first = await deliver(source.id, push, headers);
    expect(first.status).toBe(202);
    const again = await deliver(source.id, push, headers);
    expect(again.status).toBe(200);
    expect(again.json).toEqual({ deliveryId: "redelivered-1", duplicate: true, tasks: first.json.tasks });
    expect(await listTasks(project, viewer)).toHaveLength(2);
  });

  it("make exactly one task set from 20 concurrent copies of one delivery", async () => {
    const { project, viewer, source } = await world();
    const headers = await githubHeaders(push, "push", "storm-1");
    const answers = await Promise.all(Array.from({ length: 20 }, () => deliver(source.id, push, headers)));
    expect(answers.every((a) => a.status === 202 || a.status === 200)).toBe(true);
    expect(answers.some((a) => a.status === 202)).toBe(true);
    const ids = answers[0].json.tasks!;
    expect(ids).toHaveLength(2);
    for (const a of answers) expect(a.json.tasks).toEqual(ids);
    const tasks = await listTasks(project, viewer);
    expect(tasks.map((t) => t.id).sort()).toEqual([...ids].sort());
    for (const t of tasks) expect(t.version).toBe(1);
  });

  it("answer the same signed body under a new delivery id as a duplicate, making no task (issue 11: GitHub replays)", async () => {
    const { project, viewer, source } = await world();
    const first = await deliver(source.id, push, await githubHeaders(push, "push", "one"));
    expect(first.status).toBe(202);
    const replay = await deliver(source.id, push, await githubHeaders(push, "push", "two"));
    expect(replay.status).toBe(200);
    expect(replay.json).toEqual({ deliveryId: "two", duplicate: true, tasks: first.json.tasks });
    // The first delivery id re-delivered is still the ordinary duplicate.
    const again = await deliver(source.id, push, await githubHeaders(push, "push", "one"));
    expect(again.json).toEqual({ deliveryId: "one", duplicate: true, tasks: first.json.tasks });
    expect(await listTasks(project, viewer)).toHaveLength(2);
  });

  it("make one task set from concurrent copies of one body under different delivery ids (replays racing the first)", async () => {
    const { project, viewer, source } = await world();
    const headers = await Promise.all(Array.from({ length: 10 }, (_, i) => githubHeaders(push, "push", `copy-${i}`)));
    const answers = await Promise.all(headers.map((h) => deliver(source.id, push, h)));
    expect(answers.filter((a) => a.status === 202)).toHaveLength(1);
    const ids = answers.find((a) => a.status === 202)?.json.tasks;
    for (const a of answers) expect(a.json.tasks).toEqual(ids);
    expect(answers.filter((a) => a.json.duplicate === true)).toHaveLength(9);
    await ingestSettled();
    expect(await listTasks(project, viewer)).toHaveLength(2);
  });

  it("cost one ingest-shard RPC per delivery: the body's claim travels in the delivery's batch", async () => {
    const { source } = await world();
    // Every method on the shard's prototype but its own internals: the RPC surface the edge may call.
    const internal = new Set([
      "constructor",
      "alarm",
      "bodyClaim",
      "scheduleHandOff",
      "handOff",
      "handBatches",
      "handedThrough",
      "toOrgLines",
      "toDispatchers",
      "toProjects",
    ]);
    const methods = Object.getOwnPropertyNames(IngestActor.prototype).filter((m) => !internal.has(m));
    const spies = methods.map((m) => vi.spyOn(IngestActor.prototype, m as "ingest"));
    try {
      expect((await deliver(source.id, push, await githubHeaders(push, "push", "only-one"))).status).toBe(202);
      const replay = await deliver(source.id, push, await githubHeaders(push, "push", "a-replay"));
      expect(replay.json.duplicate).toBe(true);
      expect(spies.reduce((n, spy) => n + spy.mock.calls.length, 0)).toBe(2);
      expect(spies[methods.indexOf("ingest")].mock.calls).toHaveLength(2);
    } finally {
      for (const spy of spies) spy.mockRestore();
    }
  });

  it("give a different body its own tasks, whatever its delivery id", async () => {
    const { project, viewer, source } = await world();
    const other = push.replace("{", '{"another": "body", ');
    expect(other).not.toBe(push);
    expect((await deliver(source.id, push, await githubHeaders(push, "push", "one"))).status).toBe(202);
    expect((await deliver(source.id, other, await githubHeaders(other, "push", "two"))).status).toBe(202);
    expect(await listTasks(project, viewer)).toHaveLength(4);
  });
});
