// Following one task to its end: over the task WebSocket (Authorization header; Node's WebSocket
// takes headers), resuming with `?after=<last seq>` after every drop so nothing is missed or seen
// twice, and falling back to long-polling when WebSockets keep failing (proxies that strip upgrades).
import { type EdgeClient, EdgeError } from "../protocol/client.ts";
import { isTerminal, MAX_EVENTS_PAGE, MAX_LONG_POLL_SECONDS, type EventsPage, type ServerMessage, type Task, type TaskEvent } from "../protocol/index.ts";
import { backoffMs, exponential, isRetryable, retryDelayMs, sleep, type RetryPolicy } from "../protocol/retry.ts";

/** The part of Node 22's WebSocket (undici) a watch uses: tests hand in their own. */
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

// undici's WebSocket takes `{headers}` (beyond the browser API), so the token travels in a header.
const nodeWebSocket: WebSocketFactory = (url, headers) => new WebSocket(url, { headers });

/** How a watch keeps going: its retry policies, keep-alive and long-poll settings. */
export const WATCH_POLICY = {
  /** The socket reconnects with this backoff; after `attempts` in a row that never opened, it long-polls. */
  reconnect: { attempts: 3, backoff: exponential(250, 5_000) } satisfies RetryPolicy,
  /** A failed long-poll (network, 429, 5xx) is retried until the task ends. */
  poll: { attempts: Infinity, backoff: exponential(500, 10_000) } satisfies RetryPolicy,
  /** A keep-alive `ping` this often; no `pong` (or anything) within `silenceMs` means a dead path. */
  pingEveryMs: 20_000,
  silenceMs: 45_000,
  /** An upgrade not answered within this is abandoned (and retried). */
  openTimeoutMs: 15_000,
  closeAfterErrorMs: 2_000,
  /** Long-poll hold: within the contract's MAX_LONG_POLL_SECONDS, short of a proxy's 30 s idle timeout. */
  pollWaitSeconds: Math.min(25, MAX_LONG_POLL_SECONDS),
  eventsPage: MAX_EVENTS_PAGE,
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
    const { attempts } = WATCH_POLICY.reconnect;
    // Sockets in a row that never opened; a socket that opened and dropped starts the count again.
    let failures = 0;
    while (!terminalSeen && failures < attempts) {
      if (opts.signal?.aborted) throw opts.signal.reason;
      const end = await socketSession(client, taskId, lastSeq, make, deliver, () => terminalSeen, opts.signal);
      if (end.terminal || terminalSeen) break;
      if (end.opened) {
        failures = 0;
        opts.onNotice(`connection lost (${end.code}); resuming after event ${lastSeq}`);
      } else {
        failures++;
        opts.onNotice(`WebSocket failed (${end.code})${failures < attempts ? "; retrying" : ""}`);
      }
      if (failures < attempts) await sleep(backoffMs(WATCH_POLICY.reconnect.backoff, Math.max(1, failures)), opts.signal);
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
  let failures = 0;
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
      failures = 0;
    } catch (err) {
      if (!(err instanceof EdgeError) || !isRetryable(err) || opts.signal?.aborted) throw err;
      failures++;
      const wait = retryDelayMs(WATCH_POLICY.poll, failures, err);
      opts.onNotice(`${err.message}; retrying in ${Math.round(wait / 1000) || 1} s`);
      await sleep(wait, opts.signal);
    }
  }
}
