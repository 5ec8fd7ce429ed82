// The hibernating WebSockets of everyone watching one task: the greeting, live events, replays of
// what a socket missed (page by page, a turn apart, so a long history never goes out in one burst
// nor sits in memory whole), and closing once the task is over.
//
// Live events leave a turn after their commit, together with every event committed meanwhile: one
// send per socket per flush for sockets opened with `?batch=1` (an `events` frame), so a socket
// set too big to be sent each event before the next arrives gets fewer, bigger frames instead of a
// growing backlog. Sockets without it get one `event` frame per event, as always.
import { isTerminal, type ServerMessage, type Task, type TaskEvent } from "../protocol/index.ts";
import { SocketManager } from "./socket-manager.ts";
import { TOKEN_REVOKED_CLOSE, tokenTag } from "./sockets.ts";
import type { StoredEvent, TaskEventStore } from "./task-events.ts";
import type { Timers } from "./timers.ts";

export interface WatcherState {
  project: string;
  /** Opened with `?batch=1`: takes `events` frames. */
  batch?: boolean;
  /**
   * Every event above this seq has gone out to the socket live (or through its connect-time
   * replay); those at or below it were not sent unless a `resume` replayed them (which lowers it).
   */
  floorSeq: number;
}

/** The timer that closes sockets left open on a finished task. */
export const CLOSE_SOCKETS_TIMER = "close-sockets";
/** How long a socket on a finished task stays open for a `resume` before the actor closes it. */
const FINISHED_SOCKET_GRACE_MS = 30_000;
/** One replay page: at most this many events and about this many characters of JSON, then a turn. */
export const REPLAY_PAGE_EVENTS = 100;
export const REPLAY_PAGE_CHARS = 256 * 1024;
/** Below this many watchers events go out at once; from it on they linger (TaskWatchers.linger). */
const LINGER_FROM_SOCKETS = 100;
/** What sending one frame costs the actor, measured on local workerd (bench/README.md, B3). */
const LINGER_US_PER_SOCKET = 20;
const MAX_LINGER_MS = 40;
/** The tag of sockets that take batch frames, so a flush finds them without reading each attachment. */
const BATCH_TAG = "task:batch";

/** How a socket connects: replay from `after` first (or not), and whether it takes batch frames. */
export interface ConnectOptions {
  after: number | null;
  batch: boolean;
}

export class TaskWatchers {
  readonly sockets: SocketManager<WatcherState>;
  private readonly store: TaskEventStore;
  private readonly timers: Timers;
  private readonly current: () => Task | null;
  /** Sockets still in their connect-time replay: live events wait until the replay reaches them. */
  private readonly catchingUp = new Set<WebSocket>();
  /** Each socket's replays, one after the other (the last one queued). */
  private readonly replays = new Map<WebSocket, Promise<void>>();
  /** Events committed but not yet sent (the next flush sends them), and the task as of the last. */
  private pending: TaskEvent[] = [];
  private pendingTask: Task | null = null;
  private flushTimer: ReturnType<typeof setTimeout> | null = null;
  /**
   * Sockets that went live since the last flush, with the seq they already have (from their
   * greeting or replay): the flush sends them only what is newer.
   */
  private readonly liveFrom = new Map<WebSocket, number>();
  /**
   * Tokens the ProjectActor found live and recorded as watching this task (or is being asked about):
   * another socket with one of them needs no second question, since a revocation finds that record
   * and closes every socket of the token here (closeToken). Memory only; forgotten when the token
   * is revoked and when the task finishes (the ProjectActor then drops its records).
   */
  private readonly confirmed = new Map<string, Promise<boolean | null>>();

  constructor(ctx: DurableObjectState, store: TaskEventStore, timers: Timers, current: () => Task | null) {
    this.sockets = new SocketManager<WatcherState>(ctx, "task");
    this.store = store;
    this.timers = timers;
    this.current = current;
  }

  /**
   * Accepts a watcher of `task` opened with token `tokenId`: the socket is accepted (and tagged with
   * the token) before `tokenLive` asks the ProjectActor, so a revocation that comes after the answer
   * finds it (project-watchers.ts); live events wait meanwhile. Then hello and the task as they are
   * now, and with `after` every event after that seq in seq order before any live one; without, a
   * finished task's socket closes after a grace period.
   */
  async connect(task: Task, project: string, opts: ConnectOptions, tokenId: string, tokenLive: () => Promise<boolean>): Promise<Response> {
    const { after, batch } = opts;
    const tags = [...(tokenId ? [tokenTag(tokenId)] : []), ...(batch ? [BATCH_TAG] : [])];
    const { response, socket } = this.sockets.accept({ project, floorSeq: task.version, batch }, tags);
    this.catchingUp.add(socket);
    const live = await this.checkToken(tokenId, tokenLive);
    if (!live) {
      this.catchingUp.delete(socket);
      // null: the ProjectActor did not answer, so the token is unchecked and the socket goes (1011).
      if (live === null) this.sockets.close(socket, 1011, "could not check the token; reconnect");
      else this.sockets.close(socket, TOKEN_REVOKED_CLOSE, "token revoked");
      return response;
    }
    const now = this.current() ?? task;
    this.sockets.setState(socket, { project, floorSeq: now.version, batch });
    this.sockets.send(socket, { type: "hello", taskId: now.id, version: now.version, lastSeq: now.version });
    this.sockets.send(socket, { type: "task", task: now });
    if (after !== null) {
      this.queue(socket, () => this.catchUp(socket, after));
      return response;
    }
    this.goLive(socket, now.version);
    if (isTerminal(now.status)) {
      this.timers.set(CLOSE_SOCKETS_TIMER, Date.now() + FINISHED_SOCKET_GRACE_MS);
      await this.timers.arm();
    }
    return response;
  }

  /** Asks the ProjectActor about a token once for any number of sockets opened with it at a time. */
  private checkToken(tokenId: string, tokenLive: () => Promise<boolean>): Promise<boolean | null> {
    const known = this.confirmed.get(tokenId);
    if (known) return known;
    const asked = tokenLive().catch(() => null);
    if (isTerminal(this.current()?.status ?? "queued")) return asked;
    this.confirmed.set(tokenId, asked);
    // Only a yes is remembered: a no or no answer is asked again next time.
    void asked.then((live) => {
      if (live !== true && this.confirmed.get(tokenId) === asked) this.confirmed.delete(tokenId);
    });
    return asked;
  }

  /** The token was revoked: its sockets close with 4401. */
  closeToken(tokenId: string): void {
    this.confirmed.delete(tokenId);
    for (const ws of this.sockets.sockets(tokenTag(tokenId))) this.sockets.close(ws, TOKEN_REVOKED_CLOSE, "token revoked");
  }

  /** A client's message: `{"type":"resume","after":SEQ}` replays what this socket was not sent. */
  message(ws: WebSocket, message: string | ArrayBuffer): void {
    const after = this.sockets.resumeAfter(ws, message);
    if (after === null) return;
    this.queue(ws, () => this.replay(ws, after));
  }

  /**
   * New events to every socket, each serialized once; nothing per socket is read or written, as
   * every socket past its connect-time replay has been sent every event since. A finished task's
   * sockets close after its last event.
   */
  announce(task: Task, events: readonly TaskEvent[]): void {
    if (isTerminal(task.status)) this.confirmed.clear();
    this.pending.push(...events);
    this.pendingTask = task;
    if (this.flushTimer === null) this.flushTimer = setTimeout(() => this.flush(), this.linger());
  }

  /**
   * How long announced events wait for others before they go out: none for a few watchers; for many,
   * about what sending one frame to each costs (LINGER_US_PER_SOCKET), so events that arrive while
   * the last ones are still going out share the next frame instead of queueing behind it. (The
   * runtime's clock stands still while the actor computes, so the cost cannot be measured here.)
   */
  private linger(): number {
    const count = this.sockets.count();
    return count < LINGER_FROM_SOCKETS ? 0 : Math.min(MAX_LINGER_MS, (count * LINGER_US_PER_SOCKET) / 1000);
  }

  /**
   * Sends what was announced since the last flush: `events` frames to batch sockets, an `event` frame
   * per event to the others, each serialized once; a socket that went live meanwhile gets only what
   * it does not have. A finished task's sockets close after its last event.
   */
  private flush(): void {
    this.flushTimer = null;
    const [events, task] = [this.pending, this.pendingTask];
    this.pending = [];
    this.pendingTask = null;
    const liveFrom = new Map(this.liveFrom);
    this.liveFrom.clear();
    if (!task || !events.length) return;
    const batched = new Set(this.sockets.tagged(BATCH_TAG));
    const texts = events.map((event) => JSON.stringify({ type: "event", taskId: task.id, seq: event.seq, event } satisfies ServerMessage));
    const batchText = batched.size ? JSON.stringify({ type: "events", taskId: task.id, events } satisfies ServerMessage) : "";
    const close = isTerminal(task.status);
    for (const ws of this.sockets.sockets()) {
      if (this.catchingUp.has(ws)) continue;
      const from = liveFrom.get(ws);
      if (from !== undefined) this.sendNewer(ws, task.id, events, from, batched.has(ws));
      else if (batched.has(ws)) this.sockets.sendText(ws, batchText);
      else for (const text of texts) this.sockets.sendText(ws, text);
      if (close) this.sockets.close(ws, 1000, `task ${task.status}`);
    }
  }

  /** A socket that went live after some of the pending events were committed: only those after `from`. */
  private sendNewer(ws: WebSocket, taskId: string, events: readonly TaskEvent[], from: number, batch: boolean): void {
    const newer = events.filter((e) => e.seq > from);
    if (!newer.length) return;
    if (batch) this.sockets.send(ws, { type: "events", taskId, events: newer });
    else for (const event of newer) this.sockets.send(ws, { type: "event", taskId, seq: event.seq, event });
  }

  /** The socket has every event up to `seq` and takes live events from now on. */
  private goLive(ws: WebSocket, seq: number): void {
    this.catchingUp.delete(ws);
    if (this.flushTimer !== null) this.liveFrom.set(ws, seq);
  }

  /** The grace timer fired: sockets still open on a finished task close. */
  closeFinished(): void {
    const task = this.current();
    if (task && isTerminal(task.status)) this.sockets.closeAll(1000, `task ${task.status}`);
  }

  /** Runs `work` after the socket's earlier replays, so two never interleave on one socket. */
  private queue(ws: WebSocket, work: () => Promise<void>): void {
    const run = (this.replays.get(ws) ?? Promise.resolve()).then(work).catch((err: unknown) => {
      console.log(JSON.stringify({ level: "warn", msg: "socket replay failed", taskId: this.current()?.id, error: String(err) }));
    });
    const tracked = run.finally(() => {
      if (this.replays.get(ws) === tracked) this.replays.delete(ws);
    });
    this.replays.set(ws, tracked);
  }

  /**
   * The connect-time replay: pages up to the task's version as it moves, live events held back, and
   * the socket goes live in the same turn as the check that found nothing left to send.
   */
  private async catchUp(ws: WebSocket, after: number): Promise<void> {
    let seq = after;
    let task = this.current();
    try {
      while (task) {
        const page = this.store.page(seq, task.version, REPLAY_PAGE_EVENTS, REPLAY_PAGE_CHARS);
        if (!page.length) break;
        if (!this.sendPage(ws, task.id, page)) return;
        seq = page[page.length - 1].seq;
        await nextTurn();
        task = this.current();
      }
    } finally {
      this.goLive(ws, seq);
    }
    this.lowerFloor(ws, after);
    if (task && isTerminal(task.status)) this.sockets.close(ws, 1000, `task ${task.status}`);
  }

  /**
   * A `resume`: replays the events after `after` this socket has not been sent — those up to its
   * floor, since everything above went out live — and live events go on meanwhile.
   */
  private async replay(ws: WebSocket, after: number): Promise<void> {
    const state = this.sockets.state(ws);
    const task = this.current();
    if (!state || !task) return;
    let seq = after;
    while (seq < state.floorSeq) {
      const page = this.store.page(seq, state.floorSeq, REPLAY_PAGE_EVENTS, REPLAY_PAGE_CHARS);
      if (!page.length) break;
      if (!this.sendPage(ws, task.id, page)) return;
      seq = page[page.length - 1].seq;
      if (seq < state.floorSeq) await nextTurn();
    }
    this.lowerFloor(ws, after);
    const now = this.current();
    if (now && isTerminal(now.status)) this.sockets.close(ws, 1000, `task ${now.status}`);
  }

  private lowerFloor(ws: WebSocket, after: number): void {
    const state = this.sockets.state(ws);
    if (!state) return;
    this.sockets.setState(ws, { ...state, floorSeq: Math.min(state.floorSeq, after) });
  }

  /**
   * Sends stored events, their JSON spliced in unparsed: one `events` frame for a batch socket, else
   * an `event` frame each; false once the socket is gone.
   */
  private sendPage(ws: WebSocket, taskId: string, page: readonly StoredEvent[]): boolean {
    const id = JSON.stringify(taskId);
    if (this.sockets.state(ws)?.batch) return this.sockets.sendText(ws, `{"type":"events","taskId":${id},"events":[${page.map((e) => e.json).join(",")}]}`);
    const prefix = `{"type":"event","taskId":${id},"seq":`;
    for (const e of page) if (!this.sockets.sendText(ws, `${prefix}${e.seq},"event":${e.json}}`)) return false;
    return true;
  }
}

/** Yields to the event loop, so frames already sent go out and other requests get a turn. */
function nextTurn(): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, 0));
}
