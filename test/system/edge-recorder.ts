// An HTTP proxy between runner managers and the real edge that records every call (with its bearer
// token and answer) and can refuse long polls with 503, so that a system test learns the tokens the
// edge handed out (to look for them where they must not be) and can push a manager into poll backoff.
import { createServer, type IncomingMessage, type Server } from "node:http";
import type { AddressInfo } from "node:net";

export interface RecordedCall {
  /** Date.now() when the request arrived. */
  at: number;
  method: string;
  path: string;
  /** The bearer token, if any. */
  token?: string;
  status: number;
  requestBody: string;
  responseBody: string;
}

export interface EdgeRecorder {
  url: string;
  calls: RecordedCall[];
  /** While true, `POST /v1/runners/poll` answers 503 without reaching the edge. */
  refusePolls: boolean;
  /** Every bearer token and every token-like field of an answer seen so far. */
  tokens(): string[];
  close(): Promise<void>;
}

const HOP_BY_HOP = new Set(["host", "connection", "keep-alive", "transfer-encoding", "content-length", "upgrade"]);

function readBody(req: IncomingMessage): Promise<string> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    req.on("data", (c: Buffer) => chunks.push(c));
    req.on("end", () => resolve(Buffer.concat(chunks).toString("utf8")));
    req.on("error", reject);
  });
}

export async function startEdgeRecorder(target: string): Promise<EdgeRecorder> {
  const calls: RecordedCall[] = [];
  const server: Server = createServer(async (req, res) => {
    const at = Date.now();
    const path = req.url ?? "/";
    const requestBody = await readBody(req);
    const auth = req.headers.authorization;
    const token = auth?.startsWith("Bearer ") ? auth.slice(7) : undefined;
    const record = (status: number, responseBody: string) => calls.push({ at, method: req.method ?? "GET", path, token, status, requestBody, responseBody });
    if (recorder.refusePolls && req.method === "POST" && path === "/v1/runners/poll") {
      const body = JSON.stringify({ error: { code: "unavailable", message: "refused by the test's recorder", requestId: "req_recorder" } });
      record(503, body);
      res.writeHead(503, { "content-type": "application/json" });
      res.end(body);
      return;
    }
    const headers: Record<string, string> = {};
    for (const [name, value] of Object.entries(req.headers)) {
      if (value !== undefined && !HOP_BY_HOP.has(name)) headers[name] = Array.isArray(value) ? value.join(", ") : value;
    }
    try {
      const answer = await fetch(target + path, {
        method: req.method,
        headers,
        body: req.method === "GET" || req.method === "HEAD" ? undefined : requestBody,
      });
      const text = await answer.text();
      record(answer.status, text);
      const out: Record<string, string> = {};
      for (const [name, value] of answer.headers) if (!HOP_BY_HOP.has(name) && name !== "content-encoding") out[name] = value;
      res.writeHead(answer.status, out);
      res.end(text);
    } catch (err) {
      record(502, String(err));
      res.writeHead(502, { "content-type": "application/json" });
      res.end(JSON.stringify({ error: { code: "internal", message: "the recorder could not reach the edge", requestId: "req_recorder" } }));
    }
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as AddressInfo;
  const recorder: EdgeRecorder = {
    url: `http://127.0.0.1:${port}`,
    calls,
    refusePolls: false,
    tokens() {
      const found = new Set<string>();
      for (const call of calls) {
        if (call.token) found.add(call.token);
        for (const m of call.responseBody.matchAll(/"(?:runnerToken|jobToken|token)"\s*:\s*"([^"]+)"/g)) found.add(m[1]);
      }
      return [...found];
    },
    close() {
      server.closeAllConnections();
      return new Promise((resolve) => server.close(() => resolve()));
    },
  };
  return recorder;
}
