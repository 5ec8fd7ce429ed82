// Hibernating WebSocket plumbing, in one place: accepting an upgrade, the per-socket state kept in
// the attachment under one key (it survives hibernation; instance fields do not), and sending.
import type { ServerMessage } from "../protocol/index.ts";

export interface SocketState {
  project: string;
  /** The last event seq this socket was sent; live events go out above it. */
  sentSeq: number;
  /** Events at or below this seq were neither sent live nor replayed yet (a `resume` may ask for them). */
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
  try {
    ws.send(JSON.stringify(msg));
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
