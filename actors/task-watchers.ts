// The hibernating WebSockets of everyone watching one task: the greeting, live events, replays of
// what a socket missed, and closing once the task is over.
import { isTerminal, type ServerMessage, type Task, type TaskEvent } from "../protocol/index.ts";
import { ClientMessage } from "../protocol/task.ts";
import { SocketManager } from "./socket-manager.ts";
import type { StoredEvent, TaskEventStore } from "./task-events.ts";
import type { Timers } from "./timers.ts";

export interface WatcherState {
  project: string;
  /**
   * Every event above this seq has gone out to the socket live; those at or below it were not sent
   * unless a `resume` replayed them (which lowers it).
   */
  floorSeq: number;
}

/** The timer that closes sockets left open on a finished task. */
export const CLOSE_SOCKETS_TIMER = "close-sockets";
/** How long a socket on a finished task stays open for a `resume` before the actor closes it. */
const FINISHED_SOCKET_GRACE_MS = 30_000;
const REPLAY_PAGE_EVENTS = 1_000;

export class TaskWatchers {
  readonly sockets: SocketManager<WatcherState>;
  private readonly store: TaskEventStore;
  private readonly timers: Timers;
  private readonly current: () => Task | null;

  constructor(ctx: DurableObjectState, store: TaskEventStore, timers: Timers, current: () => Task | null) {
    this.sockets = new SocketManager<WatcherState>(ctx, "task");
    this.store = store;
    this.timers = timers;
    this.current = current;
  }

  /**
   * Accepts a watcher of `task`: hello and the task, then with `after` every event after that seq;
   * without, a finished task's socket closes after a grace period.
   */
  async connect(task: Task, project: string, after: number | null): Promise<Response> {
    const { response, socket } = this.sockets.accept({ project, floorSeq: task.version });
    this.sockets.send(socket, { type: "hello", taskId: task.id, version: task.version, lastSeq: task.version });
    this.sockets.send(socket, { type: "task", task });
    if (after !== null) {
      this.replay(socket, after);
    } else if (isTerminal(task.status)) {
      this.timers.set(CLOSE_SOCKETS_TIMER, Date.now() + FINISHED_SOCKET_GRACE_MS);
      await this.timers.arm();
    }
    return response;
  }

  /** A client's message: `{"type":"resume","after":SEQ}` replays what this socket was not sent. */
  message(ws: WebSocket, message: string | ArrayBuffer): void {
    let parsed: ClientMessage;
    try {
      parsed = ClientMessage.parse(JSON.parse(typeof message === "string" ? message : new TextDecoder().decode(message)));
    } catch {
      this.sockets.send(ws, { type: "error", error: { code: "invalid_request", message: 'expected {"type":"resume","after":<seq>} or the text "ping"' } });
      return;
    }
    this.replay(ws, parsed.after);
  }

  /**
   * New events to every socket, each serialized once; nothing per socket is read or written, as
   * every open socket has been sent every event since it was accepted. A finished task's sockets
   * close after its last event.
   */
  announce(task: Task, events: readonly TaskEvent[]): void {
    const messages = events.map((event): ServerMessage => ({ type: "event", taskId: task.id, seq: event.seq, event }));
    const close = isTerminal(task.status) ? { code: 1000, reason: `task ${task.status}` } : undefined;
    this.sockets.broadcast(messages, { close });
  }

  /** The grace timer fired: sockets still open on a finished task close. */
  closeFinished(): void {
    const task = this.current();
    if (task && isTerminal(task.status)) this.sockets.closeAll(1000, `task ${task.status}`);
  }

  /**
   * Replays the events after `after` that this socket has not been sent, then it stays live: events
   * above its floor already went out live, so nothing is sent twice and nothing is skipped.
   */
  private replay(ws: WebSocket, after: number): void {
    const state = this.sockets.state(ws);
    const task = this.current();
    if (!state || !task) return;
    let seq = after;
    while (seq < state.floorSeq) {
      const page = this.store.page(seq, state.floorSeq, REPLAY_PAGE_EVENTS, Number.MAX_SAFE_INTEGER);
      if (!page.length) break;
      if (!this.sendPage(ws, task.id, page)) return;
      seq = page[page.length - 1].seq;
    }
    this.sockets.setState(ws, { ...state, floorSeq: Math.min(state.floorSeq, after) });
    if (isTerminal(task.status)) this.sockets.close(ws, 1000, `task ${task.status}`);
  }

  /** Sends stored events as event frames, their JSON spliced in unparsed; false once the socket is gone. */
  private sendPage(ws: WebSocket, taskId: string, page: readonly StoredEvent[]): boolean {
    const prefix = `{"type":"event","taskId":${JSON.stringify(taskId)},"seq":`;
    for (const e of page) if (!this.sockets.sendText(ws, `${prefix}${e.seq},"event":${e.json}}`)) return false;
    return true;
  }
}
