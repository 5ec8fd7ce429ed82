// The Streaming API of the Salesforce double: a strict Bayeux/CometD server at /cometd/<version>, as
// jsforce's streaming client (faye, long-polling) meets it — handshake, connect (long-poll),
// subscribe/unsubscribe, disconnect — with the replay extension (`ext.replay[channel]`: an id to
// replay after, -1 new events only, -2 every retained event). Like Salesforce it refuses a request
// without a valid session (401, advice reconnect none), an unknown client (403::Unknown client,
// advice handshake), an unknown channel, a malformed message or replay id. `publish` is the test hook.
import { randomBytes, randomUUID } from "node:crypto";
import type { IncomingMessage, ServerResponse } from "node:http";
import { sendJson } from "./http.ts";

export interface CometdControls {
  /** Channels that exist (a subscribe to any other is refused); publish adds its channel. */
  channels: Set<string>;
  /** How long a connect is held open when nothing is there to send (Salesforce: 110 s). */
  connectTimeoutMs: number;
}

export interface CometdSubscribe {
  clientId: string;
  channel: string;
  /** The replay value asked for (undefined: no replay extension, i.e. new events). */
  replayFrom: number | undefined;
}

export interface Cometd {
  controls: CometdControls;
  handle(req: IncomingMessage, res: ServerResponse, body: string, authorized: (token: string) => boolean): void;
  /** Publishes an event on `channel` (retained like Salesforce's 72 h bus); answers its replay id. */
  publish(channel: string, payload: Record<string, unknown>): number;
  /** Every subscribe the double accepted, in order. */
  subscribes: CometdSubscribe[];
  /** Clients subscribed to `channel` that hold a connect open right now. */
  listening(channel: string): string[];
  /** Ends every held connect (e.g. before the double closes). */
  close(): void;
}

interface StoredEvent {
  channel: string;
  replayId: number;
  message: Record<string, unknown>;
}

interface Client {
  id: string;
  channels: Set<string>;
  queue: Record<string, unknown>[];
  connects: number;
  held: { res: ServerResponse; reply: Record<string, unknown>; timer: ReturnType<typeof setTimeout> } | null;
}

type Message = Record<string, unknown> & { channel?: unknown; id?: unknown; clientId?: unknown };

const REPLAY_INVALID = (id: unknown) =>
  `400::The replayId {${String(id)}} you provided was invalid.  Please provide a valid ID, -2 to replay all events, or -1 to replay only new events.`;

export function createCometd(): Cometd {
  const controls: CometdControls = { channels: new Set(["/event/Deploy_Request__e", "/data/ChangeEvents"]), connectTimeoutMs: 2000 };
  const clients = new Map<string, Client>();
  const events: StoredEvent[] = [];
  const subscribes: CometdSubscribe[] = [];
  let nextReplayId = 4000;

  const advice = () => ({ reconnect: "retry", interval: 0, timeout: controls.connectTimeoutMs });

  const flush = (client: Client) => {
    const held = client.held;
    if (!held) return;
    clearTimeout(held.timer);
    client.held = null;
    const out = [...client.queue.splice(0), held.reply];
    sendJson(held.res, 200, out);
  };

  const deliver = (client: Client, event: StoredEvent) => {
    client.queue.push(event.message);
    flush(client);
  };

  const replayValue = (msg: Message, channel: string): number | undefined | Error => {
    const ext = msg.ext;
    if (ext === undefined) return undefined;
    if (typeof ext !== "object" || ext === null) return new Error("400::ext must be an object");
    const replay = (ext as Record<string, unknown>).replay;
    if (replay === undefined) return undefined;
    if (typeof replay !== "object" || replay === null) return new Error(REPLAY_INVALID(replay));
    const value = (replay as Record<string, unknown>)[channel];
    if (value === undefined) return undefined;
    if (typeof value !== "number" || !Number.isInteger(value)) return new Error(REPLAY_INVALID(value));
    if (value === -1 || value === -2) return value;
    const retained = events.filter((e) => e.channel === channel);
    const oldest = retained[0]?.replayId;
    // An id Salesforce never gave, or one older than the bus retains, is refused.
    if (value < 1 || value >= nextReplayId || (oldest !== undefined && value < oldest - 1)) return new Error(REPLAY_INVALID(value));
    return value;
  };

  const reply = (msg: Message, fields: Record<string, unknown>) => ({ channel: msg.channel, ...(msg.id !== undefined ? { id: msg.id } : {}), ...fields });

  /** One message's replies; a connect that is to be held answers null (its reply waits in `client.held`). */
  const answer = (msg: Message, res: ServerResponse): Record<string, unknown> | Record<string, unknown>[] | null => {
    if (typeof msg !== "object" || msg === null || typeof msg.channel !== "string") return { successful: false, error: "400::channel missing" };
    const channel = msg.channel;
    if (channel === "/meta/handshake") {
      const types = msg.supportedConnectionTypes;
      if (msg.version !== "1.0" || !Array.isArray(types) || !types.includes("long-polling"))
        return reply(msg, { successful: false, error: "400::handshake needs version 1.0 and long-polling", advice: { reconnect: "none" } });
      const id = randomBytes(16).toString("base64url");
      clients.set(id, { id, channels: new Set(), queue: [], connects: 0, held: null });
      return reply(msg, {
        clientId: id,
        version: "1.0",
        minimumVersion: "1.0",
        supportedConnectionTypes: ["long-polling"],
        successful: true,
        advice: advice(),
        ext: { replay: true, "payload.format": true },
      });
    }
    const client = typeof msg.clientId === "string" ? clients.get(msg.clientId) : undefined;
    if (!client) return reply(msg, { successful: false, error: "403::Unknown client", advice: { reconnect: "handshake", interval: 0 } });
    if (channel === "/meta/connect") {
      if (msg.connectionType !== "long-polling")
        return reply(msg, { clientId: client.id, successful: false, error: "400::connectionType must be long-polling" });
      const ok = reply(msg, { clientId: client.id, successful: true, advice: advice() });
      client.connects++;
      // The first connect answers at once (as CometD does); later ones wait for events. Events
      // queued meanwhile travel in front of the connect's reply.
      if (client.connects === 1 || client.queue.length > 0) return [...client.queue.splice(0), ok];
      if (client.held) flush(client);
      const timer = setTimeout(() => flush(client), controls.connectTimeoutMs);
      client.held = { res, reply: ok, timer };
      res.on("close", () => {
        if (client.held?.res === res) {
          clearTimeout(client.held.timer);
          client.held = null;
        }
      });
      return null;
    }
    if (channel === "/meta/subscribe" || channel === "/meta/unsubscribe") {
      const subscription = msg.subscription;
      if (typeof subscription !== "string" || !controls.channels.has(subscription))
        return reply(msg, {
          clientId: client.id,
          subscription,
          successful: false,
          error: `400::The channel you requested to subscribe to does not exist {${String(subscription)}}`,
        });
      if (channel === "/meta/unsubscribe") {
        client.channels.delete(subscription);
        return reply(msg, { clientId: client.id, subscription, successful: true });
      }
      const from = replayValue(msg, subscription);
      if (from instanceof Error) return reply(msg, { clientId: client.id, subscription, successful: false, error: from.message });
      client.channels.add(subscription);
      subscribes.push({ clientId: client.id, channel: subscription, replayFrom: from });
      if (from !== undefined && from !== -1)
        for (const e of events) if (e.channel === subscription && (from === -2 || e.replayId > from)) client.queue.push(e.message);
      return reply(msg, { clientId: client.id, subscription, successful: true });
    }
    if (channel === "/meta/disconnect") {
      if (client.held) flush(client);
      clients.delete(client.id);
      return reply(msg, { clientId: client.id, successful: true });
    }
    return reply(msg, { successful: false, error: `403::Publishing to ${channel} is not allowed` });
  };

  return {
    controls,
    subscribes,
    handle(req, res, body, authorized) {
      if (req.method !== "POST") return sendJson(res, 405, [{ successful: false, error: "405::POST only" }]);
      const header = req.headers.authorization ?? "";
      const token = /^(?:OAuth|Bearer) (.+)$/.exec(header)?.[1];
      let parsed: unknown;
      try {
        parsed = JSON.parse(body);
      } catch {
        return sendJson(res, 400, [{ successful: false, error: "400::Bad request: the body is not JSON" }]);
      }
      const messages = (Array.isArray(parsed) ? parsed : [parsed]) as Message[];
      if (!token || !authorized(token)) {
        return sendJson(
          res,
          401,
          messages.map((m) => ({
            channel: typeof m?.channel === "string" ? m.channel : "/meta/handshake",
            successful: false,
            error: "403::Handshake denied",
            ext: { sfdc: { failureReason: "401::Authentication invalid" } },
            advice: { reconnect: "none" },
          })),
        );
      }
      const out: Record<string, unknown>[] = [];
      let holding = false;
      for (const m of messages) {
        const a = answer(m, res);
        if (a === null) holding = true;
        else out.push(...(Array.isArray(a) ? a : [a]));
      }
      if (holding) {
        // The held connect answers later with the rest of this request's replies in front of it.
        const client = [...clients.values()].find((c) => c.held?.res === res);
        if (client) client.queue.unshift(...out);
        return;
      }
      sendJson(res, 200, out);
    },
    publish(channel, payload) {
      controls.channels.add(channel);
      const replayId = nextReplayId++;
      const message = {
        channel,
        data: {
          schema: "fdeW9Yq3ABHfrBSP0WoZNg",
          payload: { CreatedDate: new Date().toISOString(), CreatedById: "0055g00000AbCdEAAA", ...payload },
          event: { EventUuid: randomUUID(), replayId },
        },
      };
      const event = { channel, replayId, message };
      events.push(event);
      for (const client of clients.values()) if (client.channels.has(channel)) deliver(client, event);
      return replayId;
    },
    listening(channel) {
      return [...clients.values()].filter((c) => c.channels.has(channel) && c.held !== null).map((c) => c.id);
    },
    close() {
      for (const client of clients.values()) flush(client);
    },
  };
}
