// A Standard Webhooks receiver on loopback: every delivery is checked with the reference library
// (`standardwebhooks`) against the secret its test registered, recorded, and answered as the test
// scripted (e.g. 500, 500, then 200), optionally holding the first answer until released. Driven over
// HTTP, so tests running inside workerd can use it: one key (a path segment) per test.
import type { ServerResponse } from "node:http";
import { Webhook } from "standardwebhooks";
import { close, listen, type RecordedRequest } from "./http.ts";

export interface ReceivedDelivery {
  id: string;
  timestamp: string;
  signature: string;
  body: string;
  /** null when `standardwebhooks` verified it, else its error. */
  verifyError: string | null;
  /** The receiver's clock when it arrived (ms). */
  at: number;
  status: number;
}

interface Script {
  secret: string;
  responses: number[];
  hold: boolean;
  received: ReceivedDelivery[];
  held: ServerResponse[];
}

export async function startWebhookReceiver(): Promise<{ url: string; requests: RecordedRequest[]; close(): Promise<void> }> {
  const scripts = new Map<string, Script>();
  const requests: RecordedRequest[] = [];
  const { server, url } = await listen((req, res, body) => {
    const [, kind, key] = (req.url ?? "/").split("?")[0].split("/");
    const send = (status: number, value: unknown) => {
      res.writeHead(status, { "content-type": "application/json" });
      res.end(JSON.stringify(value));
    };
    if (kind === "_script" && req.method === "PUT") {
      const { secret, responses = [], hold = false } = JSON.parse(body) as { secret: string; responses?: number[]; hold?: boolean };
      scripts.set(key, { secret, responses, hold, received: scripts.get(key)?.received ?? [], held: [] });
      return send(200, { ok: true });
    }
    const script = scripts.get(key);
    if (kind === "_log") return send(200, { received: script?.received ?? [] });
    if (kind === "_release") {
      for (const r of script?.held.splice(0) ?? []) {
        r.writeHead(200, { "content-type": "application/json" });
        r.end("{}");
      }
      return send(200, { ok: true });
    }
    if (kind !== "r" || !script || req.method !== "POST") return send(404, { error: "no such receiver" });
    const header = (name: string) => String(req.headers[name] ?? "");
    let verifyError: string | null = null;
    try {
      new Webhook(script.secret).verify(body, {
        "webhook-id": header("webhook-id"),
        "webhook-timestamp": header("webhook-timestamp"),
        "webhook-signature": header("webhook-signature"),
      });
    } catch (err) {
      verifyError = err instanceof Error ? err.message : String(err);
    }
    // A held answer is released as 200.
    const status = verifyError ? 400 : script.hold ? 200 : (script.responses.shift() ?? 200);
    script.received.push({
      id: header("webhook-id"),
      timestamp: header("webhook-timestamp"),
      signature: header("webhook-signature"),
      body,
      verifyError,
      at: Date.now(),
      status,
    });
    if (script.hold) {
      script.hold = false;
      script.held.push(res);
      return;
    }
    res.writeHead(status, { "content-type": "text/plain" });
    res.end(status < 300 ? "ok" : "not now");
  }, requests);
  return { url, requests, close: () => close(server) };
}
