// Task ids carry the edge's HMAC tag (common/task-ids.ts): an id this deployment never minted is
// answered exactly like an unknown task (404 `not_found`) at the edge, and no TaskActor is born for it
// — so no peek reaches the ingest shard every project shares. Births are observed through the
// runtime's list of Durable Objects that hold storage (a TaskActor migrates its tables when born), and
// the shards' peeks through a spy (the actors run in the tests' isolate).
import { env, listDurableObjectIds } from "cloudflare:test";
import { describe, expect, it, vi } from "vitest";
import { IngestActor } from "../../actors/ingest-actor.ts";
import { idTag } from "../../common/id-tags.ts";
import { webhookTaskId } from "../../common/task-ids.ts";
import { newId, randomPart } from "../../protocol/ids.ts";
import { api, openSocket, setup, type Answer } from "./helpers.ts";
import { accept, finish, jobEvents, pollOne, readTask, register } from "./runner-helpers.ts";
import { deliver, GITHUB_SECRET, githubSignature, putSource } from "./webhooks-helpers.ts";

const RULES = [{ on: "push", task: { type: "deploy", org: "demo", payload: { sha: "{{after}}" } } }];

async function born(taskId: string): Promise<boolean> {
  const want = env.TASK.idFromName(taskId);
  return (await listDurableObjectIds(env.TASK)).some((id) => id.equals(want));
}

/** Ids no edge of this deployment minted, in every shape an attacker might try. */
async function forgedIds(): Promise<Record<string, string>> {
  const genuine = await webhookTaskId(env.TOKEN_SIGNING_KEY, "whs_forged", crypto.randomUUID(), 0);
  const body = genuine.slice(4, 30);
  return {
    "the issue's tsk_Z0<random>": `tsk_Z0${randomPart(24)}`,
    "a webhook body with a wrong tag": `tsk_${body}${"0".repeat(13)}`,
    "a webhook body tagged under another key": `tsk_${body}${await idTag("another-deployment-key", "task-id", body)}`,
    "a webhook body tagged as a source id": `tsk_${body}${await idTag(env.TOKEN_SIGNING_KEY, "webhook-source-id", body)}`,
    "an untagged API-shaped id": newId("tsk"),
  };
}

/** What a client sees, minus the request id (different on every answer). */
function seen(res: Answer | { status: number; body: string }) {
  const body = typeof res.body === "string" ? JSON.parse(res.body) : res.body;
  return { status: res.status, body: { error: { ...body.error, requestId: "…" } } };
}

async function push(sourceId: string) {
  const body = JSON.stringify({ ref: "refs/heads/main", after: "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b" });
  const res = await deliver(sourceId, body, {
    "content-type": "application/json",
    "x-github-event": "push",
    "x-github-delivery": crypto.randomUUID(),
    "x-hub-signature-256": await githubSignature(body, GITHUB_SECRET),
  });
  expect(res.status).toBe(202);
  return res.json.tasks![0];
}

describe("task ids carry the edge's tag", () => {
  it("a forged id gets the unknown task's 404 on every task route, and no TaskActor is born for it", async () => {
    const { owner } = await setup();
    const peeks = vi.spyOn(IngestActor.prototype, "peek");
    const peeked = (id: string) => peeks.mock.calls.filter(([taskId]) => taskId === id).length;
    // The reference: a well-tagged id no delivery made reaches its actor (born, finds nothing, 404).
    const unknown = await webhookTaskId(env.TOKEN_SIGNING_KEY, "whs_unknown", crypto.randomUUID(), 0);
    const routes = (id: string) => [
      () => api("GET", `/v1/tasks/${id}`, { token: owner }),
      () => api("GET", `/v1/tasks/${id}?wait=1&version=0`, { token: owner }),
      () => api("GET", `/v1/tasks/${id}/events`, { token: owner }),
      () => api("GET", `/v1/tasks/${id}/logs`, { token: owner }),
      () => api("POST", `/v1/tasks/${id}/cancel`, { token: owner }),
      () => openSocket(`/v1/tasks/${id}/ws`, owner),
    ];
    const reference = [];
    for (const call of routes(unknown)) reference.push(seen(await call()));
    expect(reference[0]).toEqual({ status: 404, body: { error: { code: "not_found", message: "no such task", requestId: "…" } } });
    // The observation works: the genuine id's actor was born to answer.
    expect(await born(unknown)).toBe(true);
    expect(peeked(unknown)).toBeGreaterThan(0);

    for (const [shape, id] of Object.entries(await forgedIds())) {
      const answers = [];
      for (const call of routes(id)) answers.push(seen(await call()));
      expect(answers, shape).toEqual(reference);
      expect(await born(id), shape).toBe(false);
      expect(peeked(id), shape).toBe(0);
    }
    peeks.mockRestore();
  });

  it("every route of the contract that names a task refuses a forged id before any actor hop", async () => {
    const { project, owner } = await setup();
    const runner = await register(project, owner);
    const doc = (await api("GET", "/v1/openapi.json")).body as { paths: Record<string, Record<string, unknown>> };
    const named = Object.entries(doc.paths).filter(([path]) => /^\/v1\/(tasks\/\{id\}|jobs\/\{taskId\})/.test(path));
    expect(named.length).toBeGreaterThanOrEqual(8);
    const forged = `tsk_Z0${randomPart(24)}`;
    for (const [path, methods] of named) {
      for (const method of Object.keys(methods)) {
        const url = path.replace(/\{id\}|\{taskId\}/, forged);
        for (const token of [owner, runner.runnerToken]) {
          const res = await api(method.toUpperCase(), url, { token, body: method === "get" ? undefined : { assignmentId: "asg_x", leaseEpoch: 1 } });
          expect(res.status, `${method} ${path}`).toBeGreaterThanOrEqual(400);
          expect(res.status, `${method} ${path}`).toBeLessThan(500);
        }
      }
    }
    expect(await born(forged)).toBe(false);
  });

  it("a runner accepting a forged id gets the unknown assignment's 409, as it did when the dispatcher answered it", async () => {
    const { project, owner } = await setup();
    const runner = await register(project, owner);
    const forged = `tsk_Z1${randomPart(24)}`;
    const res = await accept(runner.runnerToken, forged, "asg_00000000000000000000000000");
    expect(seen(res)).toEqual({ status: 409, body: { error: { code: "assignment_expired", message: "no such assignment for this runner", requestId: "…" } } });
    expect(await born(forged)).toBe(false);
  });

  it("a real webhook task id works end to end: read, socket, accept, events, finish, logs", async () => {
    const { project, owner } = await setup();
    const source = await putSource(project, owner, "gh", { kind: "github", secret: GITHUB_SECRET, rules: RULES });
    const taskId = await push(source.id);
    expect(taskId).toMatch(/^tsk_Z[0-3][0-9A-HJKMNP-TV-Z]{37}$/);
    expect((await readTask(owner, taskId)).status).toBe("queued");
    const ws = await openSocket(`/v1/tasks/${taskId}/ws`, owner);
    expect(ws.status).toBe(101);
    ws.socket?.ws.close(1000);

    const runner = await register(project, owner);
    const offer = await pollOne(runner.runnerToken);
    expect(offer.taskId).toBe(taskId);
    const lease = await accept(runner.runnerToken, taskId, offer.assignmentId);
    expect(lease.status).toBe(200);
    expect((await jobEvents(lease.body, [{ seq: 1, type: "log", lines: ["deploying"] }])).status).toBe(200);
    expect((await finish(lease.body)).status).toBe(200);

    expect((await readTask(owner, taskId)).status).toBe("succeeded");
    const events = await api("GET", `/v1/tasks/${taskId}/events`, { token: owner });
    expect(events.body.events.map((e: { type: string }) => e.type)).toContain("log");
    expect((await api("GET", `/v1/tasks/${taskId}/logs`, { token: owner })).body).toBe("deploying\n");
  });
});
