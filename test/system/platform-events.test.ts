// Platform Events in (issue 15) with every part real: the edge in workerd, `node runner/main.ts`
// managers whose subscriber is jsforce's own streaming client (faye, replay extension), the
// Salesforce double's strict CometD endpoint, and events published on it. Events become tasks by
// the rules of a salesforce-event source; the tasks go to a pool no runner serves, so they stay
// queued and the test sees exactly what the events made.
import { dirname } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { EventSubscription } from "../../protocol/events.ts";
import type { TaskSummary } from "../../protocol/index.ts";
import { startManager, waitFor, type ManagerProcess } from "./manager-process.ts";
import { STEP_MS, type Stack, startStack } from "./stack.ts";

const CHANNEL = "/event/Deploy_Request__e";
/** Short enough that a takeover happens within the test, long enough for a loaded machine's renewals. */
const LEASE_SECONDS = 6;

let stack: Stack;

beforeAll(async () => {
  stack = await startStack({ name: "platform-events", orgs: { demo: {} }, edgeVars: { LEASE_SECONDS: String(LEASE_SECONDS) } });
  const { api, project } = stack;
  await api.request("PUT", `/v1/projects/${project}/webhook-sources/sf-events`, {
    body: {
      kind: "salesforce-event",
      rules: [
        {
          on: CHANNEL,
          if: { "payload.Environment__c": "uat" },
          task: { type: "query", org: "demo", pool: "events-nobody-serves", payload: { replayId: "{{replayId}}", ticket: "{{payload.Ticket__c}}" } },
        },
      ],
    },
  });
  await api.request("PUT", `/v1/projects/${project}/event-subscriptions/deploy-requests`, { body: { org: "demo", channel: CHANNEL, source: "sf-events" } });
}, 240_000);

afterAll(() => stack?.stop());

async function subscription(): Promise<EventSubscription> {
  const { api, project } = stack;
  return (await api.request<{ subscription: EventSubscription }>("GET", `/v1/projects/${project}/event-subscriptions/deploy-requests`)).body.subscription;
}

/** The tickets of the tasks the events made so far, in the order their events were published. */
async function tickets(): Promise<string[]> {
  const { api, project } = stack;
  const { body } = await api.request<{ tasks: TaskSummary[] }>("GET", `/v1/projects/${project}/tasks?limit=100`);
  const full = await Promise.all(body.tasks.map((t) => api.request<{ task: { payload: { replayId: number; ticket: string } } }>("GET", `/v1/tasks/${t.id}`)));
  return full
    .map((r) => r.body.task.payload)
    .sort((a, b) => a.replayId - b.replayId)
    .map((p) => p.ticket);
}

function publish(ticket: string, environment = "uat"): number {
  return stack.org.cometd.publish(CHANNEL, { Environment__c: environment, Ticket__c: ticket });
}

/** Waits until a runner holds a live subscription on the double's channel (its connect is held open). */
async function listening(): Promise<string> {
  const [client] = await waitFor(
    () => {
      const clients = stack.org.cometd.listening(CHANNEL);
      return clients.length === 1 ? clients : null;
    },
    STEP_MS,
    "one subscriber listening on the channel",
  );
  return client;
}

function runnerIdOf(m: ManagerProcess): Promise<string> {
  return m.waitForLog((r) => typeof r.runnerId === "string", STEP_MS).then((r) => String(r.runnerId));
}

describe("Platform Events", () => {
  it("three events published on the double make three tasks (a non-matching one makes none)", async () => {
    await listening();
    publish("T-1");
    publish("T-2");
    publish("ignored", "prod");
    const last = publish("T-3");
    await waitFor(async () => (await tickets()).length >= 3, STEP_MS, "three tasks");
    expect(await tickets()).toEqual(["T-1", "T-2", "T-3"]);
    // The edge stores the last event forwarded: a new subscriber resumes after it.
    await waitFor(async () => (await subscription()).replayId === last, STEP_MS, "the stored replay id");
  }, 300_000);

  it("a subscriber killed and restarted continues from its replay id: no event lost, none twice", async () => {
    const before = await subscription();
    expect(before.replayId).not.toBeNull();
    const stored = before.replayId ?? 0;
    const { manager } = stack;
    manager.child.kill("SIGKILL");
    await manager.exit;
    // Published while nobody listens: Salesforce keeps them on the bus, and the restarted runner replays them.
    publish("T-4");
    publish("T-5");
    const subscribesBefore = stack.org.cometd.subscribes.length;
    const restarted = startManager({
      edgeUrl: stack.edge.url,
      registrationToken: "",
      name: "platform-events-restarted",
      dir: dirname(manager.stateFile),
      credentialsFile: stack.store.file,
      credentialsKey: stack.store.key,
    });
    await restarted.waitForLog("subscribed to platform events", STEP_MS);
    // It subscribed from the replay id the edge stored, not from -1 (would lose T-4, T-5) nor -2 (would repeat).
    expect(stack.org.cometd.subscribes.slice(subscribesBefore).map((s) => s.replayFrom)).toEqual([stored]);
    publish("T-6");
    await waitFor(async () => (await tickets()).length >= 6, STEP_MS, "six tasks");
    expect(await tickets()).toEqual(["T-1", "T-2", "T-3", "T-4", "T-5", "T-6"]);
    stack.manager = restarted;
  }, 300_000);

  it("with two runners one subscribes; the other takes over within one lease when the first dies", async () => {
    const first = stack.manager;
    const firstId = await runnerIdOf(first);
    await listening();
    const { body: reg } = await stack.api.request<{ token: string }>("POST", `/v1/projects/${stack.project}/registration-tokens`, {
      body: { pool: "default" },
    });
    const second = startManager({
      edgeUrl: stack.edge.url,
      registrationToken: reg.token,
      name: "platform-events-second",
      dir: `${dirname(first.stateFile)}-second`,
      credentialsFile: stack.store.file,
      credentialsKey: stack.store.key,
    });
    const secondId = await runnerIdOf(second);
    // The second runner asks for leases too, and is given none while the first renews.
    const asked = await second.waitForLog("asked for platform event subscriptions", STEP_MS);
    expect(asked.leases).toEqual([]);
    expect((await subscription()).holder?.runnerId).toBe(firstId);
    // Only the first listens (between two long-polls a client holds no connect, so this waits for one).
    await listening();
    expect(second.records.some((r) => r.msg === "subscribed to platform events")).toBe(false);

    first.child.kill("SIGKILL");
    await first.exit;
    const lapse = (await subscription()).holder;
    expect(lapse?.runnerId).toBe(firstId);
    publish("T-7");
    await second.waitForLog("subscribed to platform events", STEP_MS);
    const taken = await subscription();
    expect(taken.holder?.runnerId).toBe(secondId);
    // Taken within one lease period of the first lease lapsing (the edge's own clock on both sides).
    const takenAt = Date.parse(taken.holder?.expiresAt ?? "") - LEASE_SECONDS * 1000;
    expect(takenAt - Date.parse(lapse?.expiresAt ?? "")).toBeLessThanOrEqual(LEASE_SECONDS * 1000);
    publish("T-8");
    await waitFor(async () => (await tickets()).length >= 8, STEP_MS, "eight tasks");
    expect(await tickets()).toEqual(["T-1", "T-2", "T-3", "T-4", "T-5", "T-6", "T-7", "T-8"]);
    expect(second.records.some((r) => r.msg === "platform event subscription lease taken")).toBe(true);
    expect(first.records.filter((r) => r.msg === "platform event subscription lease taken")).toHaveLength(1);
  }, 300_000);
});
