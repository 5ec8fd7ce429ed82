// WebSocket primitives the edge and the actors share: the headers of a forwarded upgrade, and
// sending that never fails the caller. Actors hold their sockets through SocketManager
// (socket-manager.ts); `accept` and `send` below are the project feed's until it moves there too.
import type { ServerMessage } from "../protocol/index.ts";

/** Headers the edge sets on an upgrade it forwards to an actor, after it authenticated the caller. */
export const FORWARD_PROJECT_HEADER = "x-sfp-project";
export const FORWARD_AFTER_HEADER = "x-sfp-after";
/** The edge's request id, so an actor's refusal carries the same `requestId` as every other answer. */
export const FORWARD_REQUEST_ID_HEADER = "x-sfp-request-id";

export function isUpgrade(request: Request): boolean {
  return request.headers.get("upgrade")?.toLowerCase() === "websocket";
}

/** Sends a message already serialized (once, for many sockets); a closing socket is skipped, not an error. */
export function sendText(ws: WebSocket, text: string): boolean {
  try {
    ws.send(text);
    return true;
  } catch {
    return false;
  }
}

/** Sends one message; false when the socket is already closing. */
export function send(ws: WebSocket, msg: ServerMessage): boolean {
  return sendText(ws, JSON.stringify(msg));
}

/** Accepts an upgrade with the Hibernation API, `state` as the socket's attachment. */
export function accept(ctx: DurableObjectState, state: { project: string; floorSeq: number }, tags: string[] = []): Response & { socket: WebSocket } {
  const pair = new WebSocketPair();
  const [client, server] = [pair[0], pair[1]];
  ctx.acceptWebSocket(server, tags);
  server.serializeAttachment(state);
  const res = new Response(null, { status: 101, webSocket: client });
  return Object.assign(res, { socket: server });
}
