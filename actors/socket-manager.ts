// One actor's hibernating WebSockets (after partyserver's connection manager): accepting an upgrade
// with the socket's own state in its attachment under one key (it survives hibernation; instance
// fields do not), `ping` answered by the runtime without waking the actor, broadcasts serialized
// once for every socket, the close handshake, and upgrade refusals in the contract's error shape.
import type { ErrorBody, ServerMessage } from "../protocol/index.ts";
import { ClientMessage } from "../protocol/task.ts";
import { FORWARD_REQUEST_ID_HEADER, isUpgrade, sendText } from "./sockets.ts";

/** The attachment holds our state under this key alone, so the runtime's own use of it cannot clash. */
const STATE_KEY = "sfp";
type Attachment<S> = { [STATE_KEY]: S };

export interface Accepted {
  /** The 101 answer to hand back to the edge. */
  response: Response;
  /** The server end, to greet before returning the response. */
  socket: WebSocket;
}

export class SocketManager<S, M = ServerMessage> {
  private readonly ctx: DurableObjectState;
  private readonly tag: string;

  /** `tag` names this manager's sockets, so one actor may hold sockets of several kinds. */
  constructor(ctx: DurableObjectState, tag: string) {
    this.ctx = ctx;
    this.tag = tag;
    // The runtime answers `ping` itself: a keep-alive never wakes a hibernated actor.
    ctx.setWebSocketAutoResponse(new WebSocketRequestResponsePair("ping", "pong"));
  }

  /** Accepts an upgrade with the Hibernation API; `tags` add to the manager's (e.g. the token id). */
  accept(state: S, tags: string[] = []): Accepted {
    const pair = new WebSocketPair();
    const [client, server] = [pair[0], pair[1]];
    this.ctx.acceptWebSocket(server, [this.tag, ...tags]);
    this.setState(server, state);
    return { response: new Response(null, { status: 101, webSocket: client }), socket: server };
  }

  /** The socket's state, or null for a socket this manager did not accept. */
  state(ws: WebSocket): S | null {
    const attachment: Partial<Attachment<S>> | null = ws.deserializeAttachment();
    return attachment?.[STATE_KEY] ?? null;
  }

  setState(ws: WebSocket, state: S): void {
    const attachment: Attachment<S> = { [STATE_KEY]: state };
    ws.serializeAttachment(attachment);
  }

  /** The open sockets of this manager (`tag` narrows to those accepted with it too). */
  sockets(tag?: string): WebSocket[] {
    const mine = this.ctx.getWebSockets(this.tag);
    return tag === undefined ? mine : mine.filter((ws) => this.ctx.getTags(ws).includes(tag));
  }

  /** How many sockets this manager holds. */
  count(): number {
    return this.ctx.getWebSockets(this.tag).length;
  }

  /** The sockets accepted with `tag` (the runtime's own index: no attachment is read). */
  tagged(tag: string): WebSocket[] {
    return this.ctx.getWebSockets(tag);
  }

  /** Sends one message; false when the socket is already closing (the caller may stop there). */
  send(ws: WebSocket, message: M): boolean {
    return sendText(ws, JSON.stringify(message));
  }

  /** Sends a frame serialized elsewhere (e.g. built from stored JSON without parsing it). */
  sendText(ws: WebSocket, text: string): boolean {
    return sendText(ws, text);
  }

  /**
   * Sends the messages to every socket but those in `except`, each serialized once for all of them,
   * then closes each with `close` when given (a finished task's watchers).
   */
  broadcast(messages: readonly M[], opts: { except?: ReadonlySet<WebSocket>; close?: { code: number; reason: string } } = {}): void {
    const sockets = this.sockets();
    if (!sockets.length) return;
    const texts = messages.map((m) => JSON.stringify(m));
    for (const ws of sockets) {
      if (opts.except?.has(ws)) continue;
      for (const text of texts) sendText(ws, text);
      if (opts.close) this.close(ws, opts.close.code, opts.close.reason);
    }
  }

  /** Sends frames serialized elsewhere to every socket, in order. */
  broadcastText(texts: readonly string[]): void {
    if (!texts.length) return;
    for (const ws of this.sockets()) for (const text of texts) sendText(ws, text);
  }

  /**
   * A client's `{"type":"resume","after":SEQ}`: its seq; anything else is answered with an error
   * message (the socket stays open) and gives null.
   */
  resumeAfter(ws: WebSocket, message: string | ArrayBuffer): number | null {
    try {
      return ClientMessage.parse(JSON.parse(typeof message === "string" ? message : new TextDecoder().decode(message))).after;
    } catch {
      const error = { type: "error", error: { code: "invalid_request", message: 'expected {"type":"resume","after":<seq>} or the text "ping"' } };
      sendText(ws, JSON.stringify(error));
      return null;
    }
  }

  /** Closes one socket; one already closed is left as it is. */
  close(ws: WebSocket, code: number, reason: string): void {
    try {
      ws.close(code, reason);
    } catch {
      // already closed or closing
    }
  }

  closeAll(code: number, reason: string): void {
    for (const ws of this.sockets()) this.close(ws, code, reason);
  }

  /**
   * The actor's webSocketClose: answers the peer's Close frame, which completes the handshake (the
   * runtime forgets the socket after this). 1005 is a Close frame without a code; 1006 and 1015 mean
   * no Close frame came, so there is nothing to answer.
   */
  closed(ws: WebSocket, code: number): void {
    if (code === 1006 || code === 1015) return;
    this.close(ws, code === 1005 ? 1000 : code, "closing");
  }
}

/**
 * The answer to a forwarded upgrade the actor will not take, in the contract's error shape with the
 * edge's request id: 426 when it is no upgrade at all, 404 when what it names is not there, 401
 * when the token it was opened with is no longer live.
 */
export function refuseUpgrade(request: Request, status: 401 | 404 | 426, message: string): Response {
  const code = status === 404 ? "not_found" : status === 401 ? "unauthenticated" : "invalid_request";
  const body: ErrorBody = { error: { code, message, requestId: request.headers.get(FORWARD_REQUEST_ID_HEADER) ?? "" } };
  return Response.json(body, { status });
}

/** The 426 answer for a request that is not an upgrade, or null when it is one. */
export function requireUpgrade(request: Request): Response | null {
  return isUpgrade(request) ? null : refuseUpgrade(request, 426, "expected a WebSocket upgrade (Upgrade: websocket)");
}
