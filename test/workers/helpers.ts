// Small clients for the workerd tests: they speak to the Worker exactly as an outside client would.
import { env, runInDurableObject, SELF } from "cloudflare:test";
import { onTestFinished, vi } from "vitest";
import { INGEST_SHARDS } from "../../protocol/ids.ts";
import type { Role, Task } from "../../protocol/index.ts";

export const ADMIN_TOKEN = "test-admin-token";
export const BASE = "https://edge.test";

export interface Answer<T = any> {
  status: number;
  body: T;
  headers: Headers;
}

export async function api<T = any>(
  method: string,
  path: string,
  opts: { token?: string; body?: unknown; headers?: Record<string, string>; raw?: BodyInit } = {},
): Promise<Answer<T>> {
  // A fresh client address per call unless a test pins one, so the per-IP limit on failed
  // authentication only fires in the test that means to hit it.
  const headers: Record<string, string> = { "cf-connecting-ip": `10.${rnd()}.${rnd()}.${rnd()}`, ...opts.headers };
  if (opts.token) headers.authorization = `Bearer ${opts.token}`;
  if (opts.body !== undefined && !headers["content-type"]) headers["content-type"] = "application/json";
  const res = await SELF.fetch(BASE + path, {
    method,
    headers,
    body: opts.raw ?? (opts.body === undefined ? undefined : JSON.stringify(opts.body)),
  });
  const text = await res.text();
  let body: unknown = text;
  if ((res.headers.get("content-type") ?? "").includes("json") && text) body = JSON.parse(text);
  return { status: res.status, body: body as T, headers: res.headers };
}

export async function newProject(name = "acme"): Promise<{ project: string; owner: string }> {
  const res = await api("POST", "/v1/projects", { token: ADMIN_TOKEN, body: { name } });
  if (res.status !== 201) throw new Error(`project create: ${res.status} ${JSON.stringify(res.body)}`);
  return { project: res.body.project.id, owner: res.body.ownerToken };
}

export async function newToken(project: string, owner: string, role: Role): Promise<{ id: string; token: string }> {
  const res = await api("POST", `/v1/projects/${project}/tokens`, { token: owner, body: { name: `${role}-token`, role } });
  if (res.status !== 201) throw new Error(`token create: ${res.status} ${JSON.stringify(res.body)}`);
  return { id: res.body.id, token: res.body.token };
}

export async function putOrg(project: string, owner: string, alias = "demo", body: Record<string, unknown> = {}) {
  const res = await api("PUT", `/v1/projects/${project}/orgs/${alias}`, { token: owner, body });
  if (res.status !== 200) throw new Error(`org put: ${res.status} ${JSON.stringify(res.body)}`);
  return res.body.org;
}

/** A project with an owner token and a registered `demo` org. */
export async function setup(name = "acme") {
  const p = await newProject(name);
  await putOrg(p.project, p.owner);
  return p;
}

export async function createTask(project: string, token: string, body: Record<string, unknown> = {}, headers: Record<string, string> = {}): Promise<Task> {
  const res = await api("POST", `/v1/projects/${project}/tasks`, { token, body: { type: "deploy", org: "demo", ...body }, headers });
  if (res.status !== 201) throw new Error(`task create: ${res.status} ${JSON.stringify(res.body)}`);
  return res.body.task;
}

function rnd(): number {
  return Math.floor(Math.random() * 256);
}

/** A WebSocket client inside workerd: collects messages and lets a test await the next ones. */
export class Socket {
  readonly ws: WebSocket;
  readonly messages: any[] = [];
  closed: { code: number; reason: string } | null = null;
  private waiters: (() => void)[] = [];
  constructor(ws: WebSocket) {
    this.ws = ws;
    ws.accept();
    ws.addEventListener("message", (e) => {
      this.messages.push(typeof e.data === "string" && e.data !== "pong" ? JSON.parse(e.data) : e.data);
      this.wake();
    });
    ws.addEventListener("close", (e) => {
      this.closed = { code: e.code, reason: e.reason };
      this.wake();
    });
  }
  private wake() {
    for (const w of this.waiters.splice(0)) w();
  }
  /** Resolves once `predicate` holds over the messages so far (or the socket closes), or fails after `ms`. */
  async until(predicate: (messages: any[]) => boolean, ms = 5000): Promise<any[]> {
    const deadline = Date.now() + ms;
    while (!predicate(this.messages)) {
      if (Date.now() > deadline) throw new Error(`timed out; got ${JSON.stringify(this.messages)}`);
      await new Promise<void>((resolve) => {
        this.waiters.push(resolve);
        setTimeout(resolve, 50);
      });
    }
    return this.messages;
  }
  events(): any[] {
    return this.messages.filter((m) => m?.type === "event");
  }
  send(data: unknown) {
    this.ws.send(typeof data === "string" ? data : JSON.stringify(data));
  }
  close() {
    try {
      this.ws.close(1000, "bye");
    } catch {
      // already closed
    }
  }
}

export async function openSocket(path: string, token?: string): Promise<{ status: number; socket: Socket | null; body: string }> {
  const headers: Record<string, string> = { upgrade: "websocket" };
  if (token) headers.authorization = `Bearer ${token}`;
  const res = await SELF.fetch(BASE + path, { headers });
  if (!res.webSocket) return { status: res.status, socket: null, body: await res.text() };
  return { status: res.status, socket: new Socket(res.webSocket), body: "" };
}

/**
 * Waits until every ingest shard has handed its webhook tasks to their dispatchers and project
 * indexes, so that a list or a poll afterwards sees all of them — and a check that none exist means it.
 */
export async function ingestSettled(): Promise<void> {
  for (let shard = 0; shard < INGEST_SHARDS; shard++) {
    const stub = env.INGEST.get(env.INGEST.idFromName(`ingest-${shard}`));
    for (let i = 0; ; i++) {
      const pending = await runInDurableObject(
        stub,
        (_o, state) => state.storage.sql.exec<{ n: number }>("SELECT COUNT(*) AS n FROM sfp_tasks WHERE seq > (SELECT through FROM sfp_handoff)").one().n,
      );
      if (pending === 0) break;
      if (i > 200) throw new Error(`ingest shard ${shard} still has ${pending} tasks to hand off`);
      await new Promise((r) => setTimeout(r, 25));
    }
  }
}

/**
 * Watches the timers armed in this isolate, where the actors run too. A long-poll that finds nothing
 * parks and arms a timer for its wait, so `armed(ms)` resolves once a poll is really parked: a test
 * waits on that instead of sleeping and hoping (under load a fixed sleep is too short, and the test
 * then passes without ever exercising the wake path). The watch ends with the test.
 */
export function watchTimers(): { armed(ms: number, count?: number): Promise<void> } {
  const spy = vi.spyOn(globalThis, "setTimeout");
  onTestFinished(() => spy.mockRestore());
  return {
    armed: (ms, count = 1) =>
      vi.waitFor(
        () => {
          const n = spy.mock.calls.filter((call) => call[1] === ms).length;
          if (n < count) throw new Error(`${n} of ${count} timers of ${ms} ms armed`);
        },
        { timeout: 15_000, interval: 10 },
      ),
  };
}

/**
 * Runs an actor's alarm right after `prepare` (which makes its work due: timers, rows) in one call
 * into the actor, with no await between them. As two calls, a real alarm (an outbox retry falling
 * due under load) could take the due work in between and still be doing it when the test went on.
 */
export function alarmAfter<T>(stub: DurableObjectStub, prepare: (sql: SqlStorage) => T): Promise<T> {
  return runInDurableObject(stub, async (instance: DurableObject, state) => {
    const prepared = prepare(state.storage.sql);
    await instance.alarm?.();
    return prepared;
  });
}
