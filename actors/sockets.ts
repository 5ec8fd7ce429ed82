// WebSocket primitives the edge and the actors share: the headers of a forwarded upgrade, and
// sending that never fails the caller. Actors hold their sockets through SocketManager
// (socket-manager.ts).

/** Headers the edge sets on an upgrade it forwards to an actor, after it authenticated the caller. */
export const FORWARD_PROJECT_HEADER = "x-sfp-project";
export const FORWARD_AFTER_HEADER = "x-sfp-after";
/** The edge's request id, so an actor's refusal carries the same `requestId` as every other answer. */
export const FORWARD_REQUEST_ID_HEADER = "x-sfp-request-id";
/** Set (to "1") when the client asked for batch frames (`?batch=1`): several events in one frame. */
export const FORWARD_BATCH_HEADER = "x-sfp-batch";
/** The id of the token the edge authenticated the upgrade with (bearer or ticket). */
export const FORWARD_TOKEN_HEADER = "x-sfp-token";

/** The tag of every socket opened with token `tokenId`, so its sockets can be found (and closed) by it. */
export function tokenTag(tokenId: string): string {
  return `tok:${tokenId}`;
}

/** The close code of a socket whose token was revoked (or had expired) while it was open. */
export const TOKEN_REVOKED_CLOSE = 4401;

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
