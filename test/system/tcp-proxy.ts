// A loopback TCP proxy that a test can turn against its clients: drop every connection, hold new
// ones until released, or refuse WebSocket upgrades (as some corporate proxies do).
import { connect, createServer, type Socket } from "node:net";

export interface TcpProxy {
  url: string;
  /** Destroys every open connection, both sides. */
  dropAll(): void;
  /** New connections wait, unforwarded, until `release()`. */
  hold(): void;
  release(): void;
  /** Requests that ask for `Upgrade: websocket` are answered 403 and never reach the target. */
  refuseWebSockets: boolean;
  close(): Promise<void>;
}

export async function startTcpProxy(target: string): Promise<TcpProxy> {
  const { hostname, port } = new URL(target);
  const open = new Set<Socket>();
  let held: Socket[] | null = null;
  // Every chunk from the client is looked at: a WebSocket upgrade may ride a kept-alive connection.
  const isUpgrade = (chunk: Buffer) => proxy.refuseWebSockets && /\r\nupgrade:\s*websocket/i.test(chunk.toString("latin1"));
  const forward = (client: Socket) => {
    const upstream = connect(Number(port), hostname);
    open.add(upstream);
    upstream.on("close", () => {
      open.delete(upstream);
      client.destroy();
    });
    upstream.on("error", () => client.destroy());
    client.on("error", () => upstream.destroy());
    client.on("close", () => upstream.destroy());
    client.on("data", (chunk: Buffer) => {
      if (isUpgrade(chunk)) {
        // As a proxy that does not do WebSockets answers: a plain refusal, then the connection ends.
        client.end("HTTP/1.1 403 Forbidden\r\ncontent-length: 0\r\nconnection: close\r\n\r\n");
        upstream.destroy();
        return;
      }
      upstream.write(chunk);
    });
    upstream.pipe(client);
  };
  const server = createServer((client) => {
    open.add(client);
    client.on("close", () => open.delete(client));
    client.on("error", () => {});
    if (held) held.push(client);
    else forward(client);
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const address = server.address();
  const listenPort = typeof address === "object" && address ? address.port : 0;
  const proxy: TcpProxy = {
    url: `http://127.0.0.1:${listenPort}`,
    refuseWebSockets: false,
    dropAll() {
      for (const s of [...open]) if (!held?.includes(s)) s.destroy();
    },
    hold() {
      held ??= [];
    },
    release() {
      const waiting = held ?? [];
      held = null;
      for (const s of waiting) if (!s.destroyed) forward(s);
    },
    async close() {
      for (const s of [...open]) s.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
  return proxy;
}
