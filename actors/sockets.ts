// Hibernating WebSocket plumbing, in one place: accepting an upgrade, the per-socket state kept in
// the attachment under one key (it survives hibernation; instance fields do not), and sending.
import type { ServerMessage } from "../protocol/index.ts";

export interface SocketState {
  project: string;
  /**
   * Every event above this seq has gone out to the socket live; those at or below it were not sent
   * unless a `resume` replayed them (which lowers it).
   */
  floorSeq: number;
}

export function accept(ctx: DurableObjectState, state: SocketState, tags: string[] = []): Response & { socket: WebSocket } {
  const pair = new WebSocketPair();
  const [client, server] = [pair[0], pair[1]];
  ctx.acceptWebSocket(server, tags);
  server.serializeAttachment(state);
  const res = new Response(null, { status: 101, webSocket: client });
  return Object.assign(res, { socket: server });
}

export function stateOf(ws: WebSocket): SocketState | null {
  return (ws.deserializeAttachment() as SocketState | null) ?? null;
}

export function saveState(ws: WebSocket, state: SocketState): void {
  ws.serializeAttachment(state);
}

/** Sends one message; a socket that is already closing is skipped rather than failing the caller. */
export function send(ws: WebSocket, msg: ServerMessage): boolean {
  return sendText(ws, JSON.stringify(msg));
}

/** The same, for a message already serialized once for many sockets. */
export function sendText(ws: WebSocket, text: string): boolean {
  try {
    ws.send(text);
    return true;
  } catch {
    return false;
  }
}

export function isUpgrade(request: Request): boolean {
  return request.headers.get("upgrade")?.toLowerCase() === "websocket";
}

/** Headers the edge sets on an upgrade it forwards to an actor, after it authenticated the caller. */
export const FORWARD_PROJECT_HEADER = "x-sfp-project";
export const FORWARD_AFTER_HEADER = "x-sfp-after";
