// The project feed: hibernating WebSockets that see every task's status changes, held through the
// shared socket manager (socket-manager.ts) like the TaskActor's watchers. Each socket is tagged
// with the id of the token that opened it, so that token's sockets can be found (and closed) by it.
import type { ServerMessage, TaskSummary } from "../protocol/index.ts";
import { refuseUpgrade, requireUpgrade, SocketManager } from "./socket-manager.ts";
import { FORWARD_PROJECT_HEADER, FORWARD_TOKEN_HEADER, tokenTag } from "./sockets.ts";

export interface FeedState {
  project: string;
  /** The token the edge authenticated the upgrade with ("" for a socket opened before tagging). */
  tokenId: string;
}

export class ProjectFeed {
  private readonly sockets: SocketManager<FeedState>;

  constructor(ctx: DurableObjectState) {
    this.sockets = new SocketManager<FeedState>(ctx, "project");
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
    const { response, socket } = this.sockets.accept({ project, tokenId }, tokenId ? [tokenTag(tokenId)] : []);
    this.sockets.send(socket, { type: "hello", project, version: 0, lastSeq: 0 });
    return response;
  }

  /** Each task's summary to every feed socket, serialized once. */
  broadcast(tasks: TaskSummary[]): void {
    if (tasks.length) this.sockets.broadcast(tasks.map((task): ServerMessage => ({ type: "task", task })));
  }

  message(ws: WebSocket): void {
    this.sockets.send(ws, { type: "error", error: { code: "invalid_request", message: 'the project feed takes no messages but the text "ping"' } });
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
}
