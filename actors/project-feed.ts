// The project feed: hibernating WebSockets that see every task's status changes (and its progress,
// throttled per task by the TaskActor) and every runner's load, held through the shared socket manager
// (socket-manager.ts) like the TaskActor's watchers. Each message carries the feed's seq
// (project-feed-log.ts); `?after=SEQ` at connect and `{"type":"resume","after":SEQ}` later replay
// what a client missed, or answer `reset` past the window. Each socket is tagged with the id of the
// token that opened it, so that token's sockets can be found (and closed) by it.
import type { RunnerLoad, TaskSummary } from "../protocol/index.ts";
import { FeedLog } from "./project-feed-log.ts";
import { PerKeyLimit } from "./runner-load.ts";
import { refuseUpgrade, requireUpgrade, SocketManager } from "./socket-manager.ts";
import { FORWARD_AFTER_HEADER, FORWARD_PROJECT_HEADER, FORWARD_TOKEN_HEADER, tokenTag } from "./sockets.ts";

export interface FeedState {
  project: string;
  /** The token the edge authenticated the upgrade with ("" for a socket opened before tagging). */
  tokenId: string;
  /**
   * Every message above this seq went out to the socket live (or in its connect-time replay); a
   * `resume` replays those at or below it (and lowers it). Absent on sockets opened before seqs.
   */
  floorSeq?: number;
}

export class ProjectFeed {
  private readonly sockets: SocketManager<FeedState>;
  private readonly log: FeedLog;
  /** When each runner's load last went out. */
  private readonly runnerLimit = new PerKeyLimit();

  constructor(ctx: DurableObjectState) {
    this.sockets = new SocketManager<FeedState>(ctx, "project");
    this.log = new FeedLog(ctx.storage.sql);
  }

  /** Accepts an upgrade the edge authenticated for this project (and forwarded with its header). */
  connect(request: Request, projectId: () => string, tokenLive: (tokenId: string) => boolean): Response {
    const refused = requireUpgrade(request);
    if (refused) return refused;
    const project = projectId();
    if (request.headers.get(FORWARD_PROJECT_HEADER) !== project) return refuseUpgrade(request, 404, "no such project");
    const tokenId = request.headers.get(FORWARD_TOKEN_HEADER) ?? "";
    // The edge checked the token against a view up to 30 s old; this actor holds the truth.
    if (tokenId && !tokenLive(tokenId)) return refuseUpgrade(request, 401, "the token is invalid, expired or revoked");
    const lastSeq = this.log.last();
    const { response, socket } = this.sockets.accept({ project, tokenId, floorSeq: lastSeq }, tokenId ? [tokenTag(tokenId)] : []);
    this.sockets.send(socket, { type: "hello", project, version: 0, lastSeq });
    const after = request.headers.get(FORWARD_AFTER_HEADER);
    // One synchronous block: the window is bounded, and no live message can slip in between.
    if (after !== null) this.replay(socket, Number(after) || 0, lastSeq);
    return response;
  }

  /** Each task's summary to every feed socket, serialized once, numbered and kept for replay. */
  broadcast(tasks: TaskSummary[]): void {
    if (!tasks.length) return;
    const texts = this.log.append(
      tasks.map((task) => (seq) => JSON.stringify({ type: "task", seq, task })),
      true,
    );
    this.sockets.broadcastText(texts);
  }

  /** A runner's load, at most once per FEED_RUNNER_SECONDS per runner, and only while someone watches. */
  runner(load: RunnerLoad, now = Date.now()): boolean {
    if (!this.sockets.sockets().length || !this.runnerLimit.take(load.id, now)) return false;
    this.sockets.broadcastText(this.log.append([(seq) => JSON.stringify({ type: "runner", seq, runner: load })], false, now));
    return true;
  }

  /** `{"type":"resume","after":SEQ}` replays what this socket was not sent; anything else is an error message. */
  message(ws: WebSocket, message: string | ArrayBuffer): void {
    const after = this.sockets.resumeAfter(ws, message);
    if (after === null) return;
    const state = this.sockets.state(ws);
    this.replay(ws, after, state?.floorSeq ?? this.log.last());
  }

  /** Closes every feed socket opened with the token; answers how many there were. */
  closeToken(tokenId: string, code: number, reason: string): number {
    const sockets = this.sockets.sockets(tokenTag(tokenId));
    for (const ws of sockets) this.sockets.close(ws, code, reason);
    return sockets.length;
  }

  closed(ws: WebSocket, code: number): void {
    this.sockets.closed(ws, code);
  }

  /** Sends the kept messages in (after, upTo] — or `reset` when the window no longer holds them — and lowers the floor. */
  private replay(ws: WebSocket, after: number, upTo: number): void {
    const found = this.log.replay(after, upTo);
    if (found.reset) {
      this.sockets.send(ws, { type: "reset", lastSeq: found.lastSeq });
      return;
    }
    for (const text of found.texts) if (!this.sockets.sendText(ws, text)) return;
    const state = this.sockets.state(ws);
    if (state) this.sockets.setState(ws, { ...state, floorSeq: Math.min(state.floorSeq ?? upTo, after) });
  }
}
