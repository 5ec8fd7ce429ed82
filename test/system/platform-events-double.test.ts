// The Salesforce double's CometD endpoint (test/doubles/salesforce-cometd.ts) is strict where
// Salesforce is: no session, no handshake, an unknown client, channel or replay id are refused as
// Salesforce refuses them; and jsforce's own streaming client with the replay extension gets exactly
// the events after the id it replays from (-1 new only, -2 all retained).
import { Connection } from "jsforce";
import { StreamingExtension } from "jsforce/lib/api/streaming.js";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { platformEvent } from "../../runner/events/channel.ts";
import { startSalesforceOrg, type SalesforceOrgDouble } from "../doubles/salesforce-org.ts";
import { waitFor } from "./manager-process.ts";

const CHANNEL = "/event/Deploy_Request__e";
let org: SalesforceOrgDouble;
let token: string;

beforeAll(async () => {
  org = await startSalesforceOrg();
  const res = await fetch(`${org.url}/services/oauth2/token`, {
    method: "POST",
    headers: { "content-type": "application/x-www-form-urlencoded" },
    body: new URLSearchParams({ grant_type: "refresh_token", client_id: org.clientId, client_secret: org.clientSecret, refresh_token: org.refreshToken }),
  });
  token = ((await res.json()) as { access_token: string }).access_token;
});

afterAll(() => org?.close());

async function bayeux(messages: unknown, auth: string | null = `OAuth ${token}`): Promise<{ status: number; body: Array<Record<string, unknown>> }> {
  const res = await fetch(`${org.url}/cometd/62.0`, {
    method: "POST",
    headers: { "content-type": "application/json", ...(auth ? { authorization: auth } : {}) },
    body: typeof messages === "string" ? messages : JSON.stringify(messages),
  });
  return { status: res.status, body: (await res.json()) as Array<Record<string, unknown>> };
}

const HANDSHAKE = { channel: "/meta/handshake", version: "1.0", supportedConnectionTypes: ["long-polling"], id: "1" };

async function handshake(): Promise<string> {
  const { body } = await bayeux([HANDSHAKE]);
  return String(body[0].clientId);
}

describe("the double's CometD endpoint refuses what Salesforce refuses", () => {
  it("no session or a wrong one: 401, advice reconnect none", async () => {
    for (const auth of [null, "OAuth not-a-session", `Basic ${token}`]) {
      const { status, body } = await bayeux([HANDSHAKE], auth);
      expect(status).toBe(401);
      expect(body[0]).toMatchObject({ channel: "/meta/handshake", successful: false, error: "403::Handshake denied", advice: { reconnect: "none" } });
    }
  });

  it("a malformed body, handshake or message, an unknown client, channel or replay id", async () => {
    expect((await bayeux("{not json")).status).toBe(400);
    expect((await bayeux([{ ...HANDSHAKE, version: "0.9" }])).body[0]).toMatchObject({ successful: false });
    expect((await bayeux([{ ...HANDSHAKE, supportedConnectionTypes: ["websocket"] }])).body[0]).toMatchObject({ successful: false });
    expect((await bayeux([{ id: "2" }])).body[0]).toMatchObject({ successful: false });
    const unknown = await bayeux([{ channel: "/meta/connect", clientId: "nobody", connectionType: "long-polling", id: "3" }]);
    expect(unknown.body[0]).toMatchObject({ successful: false, error: "403::Unknown client", advice: { reconnect: "handshake" } });
    const clientId = await handshake();
    const noChannel = await bayeux([{ channel: "/meta/subscribe", clientId, subscription: "/event/Nope__e", id: "4" }]);
    expect(noChannel.body[0]).toMatchObject({ successful: false });
    expect(String(noChannel.body[0].error)).toContain("does not exist");
    for (const bad of ["12", 1.5, 999_999_999]) {
      const replay = await bayeux([{ channel: "/meta/subscribe", clientId, subscription: CHANNEL, id: "5", ext: { replay: { [CHANNEL]: bad } } }]);
      expect(replay.body[0]).toMatchObject({ successful: false });
      expect(String(replay.body[0].error)).toContain("replayId");
    }
    const publishing = await bayeux([{ channel: CHANNEL, clientId, data: {}, id: "6" }]);
    expect(publishing.body[0]).toMatchObject({ successful: false });
    expect(org.cometd.subscribes.filter((s) => s.clientId === clientId)).toEqual([]);
  });
});

describe("jsforce's streaming client against the double", () => {
  async function listen(replayFrom: number): Promise<{ replayIds: number[]; stop(): void }> {
    const conn = new Connection({ instanceUrl: org.url, accessToken: token, version: "62.0" });
    const client = conn.streaming.createClient([new StreamingExtension.Replay(CHANNEL, replayFrom)]);
    const replayIds: number[] = [];
    const subscription = client.subscribe(CHANNEL, (message: unknown) => {
      const event = platformEvent(message);
      if (event) replayIds.push(event.replayId);
    });
    await subscription;
    return {
      replayIds,
      stop() {
        subscription.cancel();
        client.disconnect();
      },
    };
  }

  it("replays from an id, from -2 (all retained) and -1 (new only), and delivers what is published while it listens", async () => {
    const first = org.cometd.publish(CHANNEL, { Ticket__c: "A" });
    const second = org.cometd.publish(CHANNEL, { Ticket__c: "B" });
    const fromFirst = await listen(first);
    const all = await listen(-2);
    const fresh = await listen(-1);
    await waitFor(() => org.cometd.listening(CHANNEL).length === 3, 30_000, "three clients listening");
    const third = org.cometd.publish(CHANNEL, { Ticket__c: "C" });
    await waitFor(() => fresh.replayIds.length === 1 && fromFirst.replayIds.length === 2, 30_000, "the published event");
    await waitFor(() => all.replayIds.includes(third), 30_000, "the published event on -2");
    expect(fromFirst.replayIds).toEqual([second, third]);
    expect(all.replayIds.slice(-3)).toEqual([first, second, third]);
    expect(fresh.replayIds).toEqual([third]);
    expect(org.cometd.subscribes.slice(-3).map((s) => s.replayFrom)).toEqual([first, -2, -1]);
    for (const l of [fromFirst, all, fresh]) l.stop();
  });
});
