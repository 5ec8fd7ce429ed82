// The manager's HTTP surface, on loopback behind Caddy: GET /healthz, the edge-signed POST /v1/wake,
// and GET /metrics. Caddy checks the origin token; the wake's HMAC and nonce are checked here
// (wake-check.ts), on the raw bytes.
import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import type { ErrorCode } from "../../protocol/errors.ts";
import { newId } from "../../protocol/ids.ts";
import { WAKE_NONCE_HEADER, WAKE_PATH, WAKE_SIGNATURE_HEADER, WAKE_TIMESTAMP_HEADER, WakeBody } from "../../protocol/runner.ts";
import { TIMING } from "./config.ts";
import type { Logger } from "./log.ts";
import { METRICS_CONTENT_TYPE, type Metrics } from "./metrics.ts";
import { WakeCheck } from "./wake-check.ts";

/** What the server needs of the agent. */
export interface ServedAgent {
  readonly state: string;
  readonly runnerId?: string;
  readonly activeTasks: string[];
  freeSlots(): number;
  wake(): boolean;
}

export interface ServerDeps {
  agent: ServedAgent;
  metrics: Metrics;
  log: Logger;
  originToken?: string;
  version: string;
  slots: number;
  now?: () => number;
}

export function createManagerServer(deps: ServerDeps): Server {
  const now = deps.now ?? Date.now;
  const wakes = deps.originToken ? new WakeCheck(deps.originToken) : undefined;
  return createServer((req, res) => {
    const requestId = newId("req");
    const path = (req.url ?? "/").split("?")[0];
    if (req.method === "GET" && path === "/healthz") {
      return json(res, 200, {
        ok: true,
        state: deps.agent.state,
        runnerId: deps.agent.runnerId ?? null,
        version: deps.version,
        slots: deps.slots,
        freeSlots: deps.agent.freeSlots(),
        activeTasks: deps.agent.activeTasks.length,
      });
    }
    if (req.method === "GET" && path === "/metrics") {
      res.writeHead(200, { "content-type": METRICS_CONTENT_TYPE, "cache-control": "no-store" });
      return res.end(deps.metrics.render());
    }
    if (req.method === "POST" && path === WAKE_PATH) return void wake(req, res, requestId);
    return error(res, 404, "not_found", `no route for ${req.method} ${path}`, requestId);
  });

  async function wake(req: IncomingMessage, res: ServerResponse, requestId: string): Promise<void> {
    if (!wakes) return error(res, 404, "not_found", "wakes are disabled: SFP_ORIGIN_TOKEN is not set", requestId);
    let raw: Buffer;
    try {
      raw = await readBody(req, TIMING.wakeMaxBodyBytes);
    } catch {
      return error(res, 413, "too_large", `a wake body is at most ${TIMING.wakeMaxBodyBytes} bytes`, requestId);
    }
    const signed = { timestamp: header(req, WAKE_TIMESTAMP_HEADER), nonce: header(req, WAKE_NONCE_HEADER), signature: header(req, WAKE_SIGNATURE_HEADER) };
    const refused = wakes.check(signed, raw, now());
    if (refused) {
      deps.log.warn("wake refused", { requestId, code: refused.code });
      return error(res, refused.status, refused.code, refused.message, requestId);
    }
    let body: unknown;
    try {
      body = raw.length ? JSON.parse(raw.toString("utf8")) : {};
    } catch {
      return error(res, 400, "invalid_json", "the wake body is not JSON", requestId);
    }
    const parsed = WakeBody.partial().safeParse(body);
    if (!parsed.success) {
      const field = parsed.error.issues[0]?.path.join(".") || "body";
      return error(res, 400, "invalid_request", `invalid wake body: ${field}`, requestId);
    }
    const woke = deps.agent.wake();
    deps.log.info("wake", { requestId, woke, ...parsed.data });
    json(res, 202, { ok: true, woke, state: deps.agent.state });
  }
}

/** Listens and resolves with the bound address (port 0 picks a free one). */
export function listen(server: Server, host: string, port: number): Promise<AddressInfo> {
  return new Promise((resolve, reject) => {
    server.once("error", reject);
    server.listen(port, host, () => {
      server.off("error", reject);
      resolve(server.address() as AddressInfo);
    });
  });
}

function header(req: IncomingMessage, name: string): string | undefined {
  const value = req.headers[name];
  return Array.isArray(value) ? value[0] : value;
}

function readBody(req: IncomingMessage, limit: number): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    req.on("data", (chunk: Buffer) => {
      size += chunk.length;
      if (size > limit) {
        req.pause();
        reject(new Error("too large"));
      } else chunks.push(chunk);
    });
    req.on("end", () => resolve(Buffer.concat(chunks)));
    req.on("error", reject);
  });
}

function json(res: ServerResponse, status: number, body: unknown): void {
  res.writeHead(status, { "content-type": "application/json", "cache-control": "no-store" });
  res.end(JSON.stringify(body));
}

function error(res: ServerResponse, status: number, code: ErrorCode, message: string, requestId: string): void {
  if (status === 413) res.setHeader("connection", "close");
  json(res, status, { error: { code, message, requestId } });
}
