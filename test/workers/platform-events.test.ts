// Platform Event subscriptions at the edge (issue 15): the owner's routes, one lease per subscription
// across a pool with takeover once it lapses, the replay id kept with the subscription, deliveries
// deduplicated by (org, channel, replayId), and the refusals of each route in the contract's shape.
import { env, runInDurableObject } from "cloudflare:test";
import { describe, expect, it } from "vitest";
import { api, ingestSettled, putOrg, setup } from "./helpers.ts";
import { register } from "./runner-helpers.ts";

const CHANNEL = "/event/Deploy_Request__e";

async function configured() {
  const { project, owner } = await setup("platform-events");
  const source = await api("PUT", `/v1/projects/${project}/webhook-sources/sf-events`, {
    token: owner,
    body: {
      kind: "salesforce-event",
      rules: [
        {
          on: CHANNEL,
          if: { "payload.Env__c": "uat" },
          task: { type: "query", org: "demo", payload: { ticket: "{{payload.Ticket__c}}", at: "{{replayId}}" } },
        },
      ],
    },
  });
  expect(source.status).toBe(200);
  const put = await api("PUT", `/v1/projects/${project}/event-subscriptions/deploys`, {
    token: owner,
    body: { org: "demo", channel: CHANNEL, source: "sf-events" },
  });
  expect(put.status).toBe(200);
  return { project, owner, hookUrl: source.body.source.url as string };
}

function lease(token: string, held: { name: string; leaseEpoch: number; replayId?: number }[] = []) {
  return api("POST", "/v1/runners/subscriptions/lease", { token, body: { held } });
}

function forward(token: string, leaseEpoch: number, events: { replayId: number; payload: Record<string, unknown> }[], name = "deploys") {
  return api("POST", `/v1/runners/subscriptions/${name}/events`, { token, body: { leaseEpoch, events } });
}

/** Makes the subscription's lease lapse now, as if its holder had stopped renewing a lease period ago. */
async function lapse(project: string, name = "deploys") {
  await runInDurableObject(env.PROJECT.get(env.PROJECT.idFromName(project)), (_o, state) => {
    state.storage.sql.exec("UPDATE sfp_event_subscriptions SET expires_at = ? WHERE name = ?", Date.now() - 1, name);
  });
}

describe("event subscriptions (owner)", () => {
  it("are put, read, listed and deleted; bad input is refused in the contract's shape", async () => {
    const { project, owner } = await configured();
    const got = await api("GET", `/v1/projects/${project}/event-subscriptions/deploys`, { token: owner });
    expect(got.body.subscription).toMatchObject({
      name: "deploys",
      org: "demo",
      channel: CHANNEL,
      source: "sf-events",
      enabled: true,
      replayId: null,
      holder: null,
    });
    const clash = await api("PUT", `/v1/projects/${project}/event-subscriptions/other`, {
      token: owner,
      body: { org: "demo", channel: CHANNEL, source: "sf-events" },
    });
    expect(clash.status).toBe(409);
    expect(clash.body.error.code).toBe("conflict");
    const badChannel = await api("PUT", `/v1/projects/${project}/event-subscriptions/x`, {
      token: owner,
      body: { org: "demo", channel: "event/x", source: "sf-events" },
    });
    expect(badChannel.status).toBe(400);
    expect(badChannel.body.error.field).toBe("channel");
    const badOrg = await api("PUT", `/v1/projects/${project}/event-subscriptions/x`, {
      token: owner,
      body: { org: "nope", channel: "/data/ChangeEvents", source: "sf-events" },
    });
    expect(badOrg.status).toBe(400);
    await api("PUT", `/v1/projects/${project}/webhook-sources/gh`, { token: owner, body: { kind: "github", secret: "0123456789abcdef0123", rules: [] } });
    const notEvents = await api("PUT", `/v1/projects/${project}/event-subscriptions/x`, {
      token: owner,
      body: { org: "demo", channel: "/data/ChangeEvents", source: "gh" },
    });
    expect(notEvents.status).toBe(400);
    const inUse = await api("DELETE", `/v1/projects/${project}/webhook-sources/sf-events`, { token: owner });
    expect(inUse.status).toBe(409);
    const list = await api("GET", `/v1/projects/${project}/event-subscriptions`, { token: owner });
    expect(list.body.subscriptions.map((s: { name: string }) => s.name)).toEqual(["deploys"]);
    expect((await api("DELETE", `/v1/projects/${project}/event-subscriptions/deploys`, { token: owner })).status).toBe(204);
    expect((await api("GET", `/v1/projects/${project}/event-subscriptions/deploys`, { token: owner })).status).toBe(404);
  });

  it("a salesforce-event source takes nothing at its hook URL", async () => {
    const { hookUrl } = await configured();
    const res = await api("POST", hookUrl, { body: { replayId: 1 } });
    expect(res.status).toBe(403);
    expect(res.body.error.code).toBe("forbidden");
  });
});

describe("subscription leases and deliveries (runner)", () => {
  it("one runner of the pool holds the lease; another takes it over once it lapses, from the stored replay id", async () => {
    const { project, owner } = await configured();
    const a = await register(project, owner);
    const b = await register(project, owner);
    const first = await lease(a.runnerToken);
    expect(first.status).toBe(200);
    expect(first.body.leases).toMatchObject([{ name: "deploys", org: "demo", channel: CHANNEL, leaseEpoch: 1, replayId: null }]);
    expect((await lease(b.runnerToken)).body.leases).toEqual([]);

    const sent = await forward(a.runnerToken, 1, [{ replayId: 11, payload: { Env__c: "uat", Ticket__c: "T-1" } }]);
    expect(sent.status).toBe(200);
    expect(sent.body).toMatchObject({ replayId: 11, duplicates: 0 });
    expect(sent.body.tasks).toHaveLength(1);
    // Renewal keeps it with a's, and b still gets nothing.
    expect((await lease(a.runnerToken, [{ name: "deploys", leaseEpoch: 1, replayId: 11 }])).body.leases).toHaveLength(1);
    expect((await lease(b.runnerToken)).body.leases).toEqual([]);

    await lapse(project);
    const taken = await lease(b.runnerToken);
    expect(taken.body.leases).toMatchObject([{ name: "deploys", leaseEpoch: 2, replayId: 11 }]);
    // The old holder's renewal and deliveries are refused now.
    expect((await lease(a.runnerToken, [{ name: "deploys", leaseEpoch: 1 }])).body.leases).toEqual([]);
    const stale = await forward(a.runnerToken, 1, [{ replayId: 12, payload: { Env__c: "uat" } }]);
    expect(stale.status).toBe(409);
    expect(stale.body.error.code).toBe("stale_lease");
    const got = await api("GET", `/v1/projects/${project}/event-subscriptions/deploys`, { token: owner });
    expect(got.body.subscription.holder.runnerId).toBe(b.runnerId);
  });

  it("an event forwarded twice makes its tasks once; the stored replay id never goes back", async () => {
    const { project, owner } = await configured();
    const a = await register(project, owner);
    await lease(a.runnerToken);
    const events = [
      { replayId: 21, payload: { Env__c: "uat", Ticket__c: "T-1" } },
      { replayId: 22, payload: { Env__c: "prod", Ticket__c: "skip" } },
      { replayId: 23, payload: { Env__c: "uat", Ticket__c: "T-2" } },
    ];
    const once = await forward(a.runnerToken, 1, events);
    expect(once.body.tasks).toHaveLength(2);
    expect(once.body.replayId).toBe(23);
    const again = await forward(a.runnerToken, 1, events.slice(0, 1));
    expect(again.body).toEqual({ replayId: 23, tasks: [once.body.tasks[0]], duplicates: 1 });
    await ingestSettled();
    const list = await api("GET", `/v1/projects/${project}/tasks`, { token: owner });
    expect(list.body.tasks).toHaveLength(2);
    const task = await api("GET", `/v1/tasks/${once.body.tasks[0]}`, { token: owner });
    expect(task.body.task.payload).toEqual({ ticket: "T-1", at: 21 });
    expect(task.body.task.source).toMatchObject({ kind: "webhook", sourceName: "sf-events", deliveryId: `demo/${CHANNEL}/21`, event: CHANNEL });
  });

  it("refuses other credentials, other pools' runners, and malformed bodies", async () => {
    const { project, owner } = await configured();
    await putOrg(project, owner, "elsewhere", { pool: "other" });
    const other = await register(project, owner, { pool: "other" });
    expect((await lease(other.runnerToken)).body.leases).toEqual([]);
    const byOwner = await lease(owner);
    expect(byOwner.status).toBe(403);
    expect(byOwner.body.error).toMatchObject({ code: "forbidden" });
    expect(typeof byOwner.body.error.requestId).toBe("string");
    const a = await register(project, owner);
    await lease(a.runnerToken);
    const bad = await forward(a.runnerToken, 1, [{ replayId: -5, payload: {} }]);
    expect(bad.status).toBe(400);
    expect((await forward(a.runnerToken, 1, [])).status).toBe(400);
    expect((await forward(a.runnerToken, 1, [{ replayId: 1, payload: {} }], "nope")).status).toBe(404);
    // A revoked runner's leases end at once, and it is refused.
    await api("DELETE", `/v1/projects/${project}/runners/${a.runnerId}`, { token: owner });
    expect((await lease(a.runnerToken)).status).toBe(401);
  });
});
