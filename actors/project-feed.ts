// The project feed: hibernating WebSockets that see every task's status changes. The socket
// plumbing is the actor's own for now; it moves to the shared socket manager when that lands.
import type { ServerMessage, TaskSummary } from "../protocol/index.ts";
import { accept, FORWARD_PROJECT_HEADER, isUpgrade, send, sendText } from "./sockets.ts";

/** The id of the token the edge authenticated the upgrade with (bearer or ticket). */
export const FORWARD_TOKEN_HEADER = "x-sfp-token";

/** The tag of every feed socket opened with token `tokenId`, so its sockets can be found (and closed) by it. */
export function tokenTag(tokenId: string): string {
  return `tok:${tokenId}`;
}

export class ProjectFeed {
  private readonly ctx: DurableObjectState;

  constructor(ctx: DurableObjectState) {
    this.ctx = ctx;
    ctx.setWebSocketAutoResponse(new WebSocketRequestResponsePair("ping", "pong"));
  }

  /** Accepts an upgrade the edge authenticated for this project (and forwarded with its header). */
  connect(request: Request, projectId: () => string): Response {
    if (!isUpgrade(request)) return new Response("expected a WebSocket upgrade", { status: 426 });
    const project = projectId();
    if (request.headers.get(FORWARD_PROJECT_HEADER) !== project) {
      return Response.json({ error: { code: "not_found", message: "no such project", requestId: "" } }, { status: 404 });
    }
    const tokenId = request.headers.get(FORWARD_TOKEN_HEADER);
    const res = accept(this.ctx, { project, floorSeq: 0 }, tokenId ? ["project", tokenTag(tokenId)] : ["project"]);
    send(res.socket, { type: "hello", project, version: 0, lastSeq: 0 });
    return res;
  }

  /** Each task's summary to every feed socket, serialized once. */
  broadcast(tasks: TaskSummary[]): void {
    const sockets = this.ctx.getWebSockets();
    if (!sockets.length || !tasks.length) return;
    const texts = tasks.map((task) => JSON.stringify({ type: "task", task } satisfies ServerMessage));
    for (const ws of sockets) for (const text of texts) sendText(ws, text);
  }

  message(ws: WebSocket): void {
    send(ws, { type: "error", error: { code: "invalid_request", message: 'the project feed takes no messages but the text "ping"' } });
  }

  close(ws: WebSocket, code: number): void {
    try {
      ws.close(code === 1005 ? 1000 : code, "closing");
    } catch {
      // already closed
    }
  }
}
