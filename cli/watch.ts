// Following one task to its end: over the task WebSocket (Authorization header; Node's WebSocket
// takes headers), resuming with `?after=<last seq>` after every drop so nothing is missed or seen
// twice, and falling back to long-polling when WebSockets keep failing (proxies that strip upgrades).
import { type EdgeClient, EdgeError } from "../protocol/client.ts";
import { isTerminal, type EventsPage, type ServerMessage, type Task, type TaskEvent } from "../protocol/index.ts";

/** Node 22's WebSocket (undici) as we use it; the project's global types are the Workers runtime's. */
interface NodeWebSocket {
  readonly readyState: number;
  send(data: string): void;
  close(code?: number, reason?: string): void;
  addEventListener(type: "open", listener: () => void): void;
  addEventListener(type: "message", listener: (ev: { data: unknown }) => void): void;
  addEventListener(type: "close", listener: (ev: { code: number; reason: string }) => void): void;
  addEventListener(type: "error", listener: () => void): void;
}
export type WebSocketFactory = (url: string, headers: Record<string, string>) => NodeWebSocket;

const nodeWebSocket: WebSocketFactory = (url, headers) => {
  // undici's WebSocket accepts `{headers}` (not part of the browser API, hence the local type).
  const Ctor = (globalThis as unknown as { WebSocket: new (url: string, init: { headers: Record<string, string> }) => NodeWebSocket }).WebSocket;
  return new Ctor(url, { headers });
};

/** Retry policy of the socket: reconnect with backoff; after this many attempts in a row that never opened, long-poll. */
export const WATCH_POLICY = {
  wsFailuresBeforePoll: 3,
  reconnectInitialMs: 250,
  reconnectMaxMs: 5_000,
  /** A keep-alive `ping` this often; no `pong` (or anything) within `silenceMs` means a dead path. */
  pingEveryMs: 20_000,
  silenceMs: 45_000,
  /** An upgrade not answered within this is abandoned (and retried). */
  openTimeoutMs: 15_000,
  closeAfterErrorMs: 2_000,
  /** Long-poll hold (the contract allows ≤ 30 s). */
  pollWaitSeconds: 25,
  pollRetryInitialMs: 500,
  pollRetryMaxMs: 10_000,
  eventsPage: 1000,
} as const;

export interface WatchOptions {
  client: EdgeClient;
  taskId: string;
  /** Events up to this seq were seen already. */
  after?: number;
  transport?: "auto" | "poll";
  onEvent(event: TaskEvent): void;
  onNotice(text: string): void;
  webSocket?: WebSocketFactory;
  signal?: AbortSignal;
}

/** Follows the task until it is finished; answers its final state. */
export async function watchTask(opts: WatchOptions): Promise<Task> {
  const { client, taskId } = opts;
  let lastSeq = opts.after ?? 0;
  let terminalSeen = false;

  // Every event passes here once, in order: duplicates (a replay overlapping what came live) are dropped.
  const deliver = (event: TaskEvent): "ok" | "gap" => {
    if (event.seq <= lastSeq) return "ok";
    if (event.seq !== lastSeq + 1) return "gap";
    lastSeq = event.seq;
    if (event.type === "status" && isTerminal(event.status)) terminalSeen = true;
    opts.onEvent(event);
    return "ok";
  };

  // One plain read first: a wrong id or token is a clear 4xx here rather than a failed upgrade.
  const first = await client.request<{ task: Task }>("GET", `/v1/tasks/${encodeURIComponent(taskId)}`, { signal: opts.signal });
  if (isTerminal(first.body.task.status) && lastSeq >= first.body.task.version) return first.body.task;

  if (opts.transport !== "poll") {
    const make = opts.webSocket ?? nodeWebSocket;
    let failures = 0;
    let delay: number = WATCH_POLICY.reconnectInitialMs;
    while (!terminalSeen && failures < WATCH_POLICY.wsFailuresBeforePoll) {
      if (opts.signal?.aborted) throw opts.signal.reason;
      const end = await socketSession(client, taskId, lastSeq, make, deliver, () => terminalSeen, opts.signal);
      if (end.terminal || terminalSeen) break;
      if (end.opened) {
        failures = 0;
        delay = WATCH_POLICY.reconnectInitialMs;
        opts.onNotice(`connection lost (${end.code}); resuming after event ${lastSeq}`);
      } else {
        failures++;
        opts.onNotice(`WebSocket failed (${end.code})${failures < WATCH_POLICY.wsFailuresBeforePoll ? "; retrying" : ""}`);
      }
      if (failures < WATCH_POLICY.wsFailuresBeforePoll) {
        await sleep(delay, opts.signal);
        delay = Math.min(delay * 2, WATCH_POLICY.reconnectMaxMs);
      }
    }
    if (!terminalSeen) opts.onNotice("WebSockets are not getting through; following the task by long-polling");
  }

  if (!terminalSeen) await pollUntilDone(client, taskId, () => lastSeq, deliver, opts);
  const final = await client.request<{ task: Task }>("GET", `/v1/tasks/${encodeURIComponent(taskId)}`, { signal: opts.signal });
  return final.body.task;
}

interface SessionEnd {
  opened: boolean;
  terminal: boolean;
  code: number;
}

function socketSession(
  client: EdgeClient,
  taskId: string,
  after: number,
  make: WebSocketFactory,
  deliver: (e: TaskEvent) => "ok" | "gap",
  terminalSeen: () => boolean,
  signal?: AbortSignal,
): Promise<SessionEnd> {
  const url = new URL(`${client.baseUrl}/v1/tasks/${encodeURIComponent(taskId)}/ws`);
  url.protocol = url.protocol === "https:" ? "wss:" : "ws:";
  url.searchParams.set("after", String(after));
  const headers: Record<string, string> = client.token ? { authorization: `Bearer ${client.token}` } : {};
  return new Promise((resolve) => {
    let opened = false;
    let terminal = false;
    let heardAt = Date.now();
    let settled = false;
    const ws = make(url.toString(), headers);
    // A handshake that hangs (a proxy holding the upgrade) counts as a failed attempt.
    const openTimer = setTimeout(() => {
      finish(4002);
      ws.close(4002, "handshake timeout");
    }, WATCH_POLICY.openTimeoutMs);
    const keepAlive = setInterval(() => {
      if (Date.now() - heardAt > WATCH_POLICY.silenceMs) return ws.close(4000, "silent");
      if (ws.readyState === 1) ws.send("ping");
    }, WATCH_POLICY.pingEveryMs);
    const onAbort = () => ws.close(1000, "interrupted");
    signal?.addEventListener("abort", onAbort, { once: true });
    const finish = (code: number) => {
      if (settled) return;
      settled = true;
      clearInterval(keepAlive);
      clearTimeout(openTimer);
      signal?.removeEventListener("abort", onAbort);
      resolve({ opened, terminal: terminal || terminalSeen(), code });
    };
    ws.addEventListener("open", () => {
      opened = true;
      clearTimeout(openTimer);
    });
    ws.addEventListener("message", (ev) => {
      heardAt = Date.now();
      const text = typeof ev.data === "string" ? ev.data : "";
      if (text === "pong") return;
      let msg: ServerMessage;
      try {
        msg = JSON.parse(text) as ServerMessage;
      } catch {
        return;
      }
      if (msg.type === "event" && deliver(msg.event) === "gap") {
        // Cannot happen with a well-behaved edge; reconnecting with ?after= fills the hole.
        ws.close(4001, "gap");
      } else if (msg.type === "task" && isTerminal(msg.task.status) && msg.task.version <= after) {
        terminal = true;
      }
      // Done: settle now rather than wait out the closing handshake, which a proxy may hold open.
      if (terminal || terminalSeen()) {
        finish(1000);
        ws.close(1000, "done");
      }
    });
    ws.addEventListener("close", (ev) => finish(ev.code));
    ws.addEventListener("error", () => {
      // undici fires no close event after a failed handshake (readyState stays CONNECTING), so a
      // socket that never opened is settled here; an open one gets its close, or this backstop.
      if (!opened) finish(1006);
      else setTimeout(() => finish(1006), WATCH_POLICY.closeAfterErrorMs);
    });
  });
}

async function pollUntilDone(
  client: EdgeClient,
  taskId: string,
  lastSeq: () => number,
  deliver: (e: TaskEvent) => "ok" | "gap",
  opts: WatchOptions,
): Promise<void> {
  const id = encodeURIComponent(taskId);
  let delay: number = WATCH_POLICY.pollRetryInitialMs;
  for (;;) {
    try {
      const page = await client.request<EventsPage>("GET", `/v1/tasks/${id}/events?after=${lastSeq()}&limit=${WATCH_POLICY.eventsPage}`, {
        signal: opts.signal,
      });
      for (const event of page.body.events) deliver(event);
      if (page.body.done) return;
      if (page.body.events.length < WATCH_POLICY.eventsPage) {
        // Every change appends one event, so the version to wait past is the last seq we hold.
        await client.request("GET", `/v1/tasks/${id}?wait=${WATCH_POLICY.pollWaitSeconds}&version=${lastSeq()}`, { signal: opts.signal });
      }
      delay = WATCH_POLICY.pollRetryInitialMs;
    } catch (err) {
      if (!(err instanceof EdgeError) || !retryable(err)) throw err;
      opts.onNotice(`${err.message}; retrying in ${Math.round(delay / 1000) || 1} s`);
      await sleep(err.retryAfter ? err.retryAfter * 1000 : delay, opts.signal);
      delay = Math.min(delay * 2, WATCH_POLICY.pollRetryMaxMs);
    }
  }
}

function retryable(err: EdgeError): boolean {
  return err.status === 0 || err.status === 429 || err.status >= 500;
}

function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal?.aborted) return reject(signal.reason);
    const timer = setTimeout(() => {
      signal?.removeEventListener("abort", onAbort);
      resolve();
    }, ms);
    const onAbort = () => {
      clearTimeout(timer);
      reject(signal?.reason);
    };
    signal?.addEventListener("abort", onAbort, { once: true });
  });
}
