import { z } from "@hono/zod-openapi";
import { codeForStatus, isErrorCode, type ErrorCode } from "./errors.ts";
import { artifactPath, DEFAULT_ARTIFACT_CONTENT_TYPE, type Artifact } from "./artifacts.ts";
import { PlatformEventsAnswer, SubscriptionLeaseAnswer, type PlatformEvent, type SubscriptionLeaseBody } from "./events.ts";

/** An error answer from the edge, as the contract shapes it. */
export class EdgeError extends Error {
  readonly status: number;
  readonly code: ErrorCode | "network";
  readonly requestId?: string;
  readonly retryAfter?: number;
  constructor(status: number, code: ErrorCode | "network", message: string, requestId?: string, retryAfter?: number) {
    super(message);
    this.name = "EdgeError";
    this.status = status;
    this.code = code;
    this.requestId = requestId;
    this.retryAfter = retryAfter;
  }
}

export interface EdgeResponse<T> {
  status: number;
  body: T;
  headers: Headers;
}

/**
 * The one HTTP client for the edge's v1 API, used by the runner manager and the CLI. It speaks JSON,
 * turns every non-2xx answer into an EdgeError carrying the contract's code, and never logs a token.
 */
export class EdgeClient {
  readonly baseUrl: string;
  token?: string;
  constructor(baseUrl: string, token?: string) {
    this.baseUrl = baseUrl.replace(/\/+$/, "");
    this.token = token;
  }

  async request<T>(
    method: string,
    path: string,
    opts: { body?: unknown; token?: string; headers?: Record<string, string>; signal?: AbortSignal; accept304?: boolean } = {},
  ): Promise<EdgeResponse<T>> {
    const headers: Record<string, string> = { accept: "application/json", ...opts.headers };
    const token = opts.token ?? this.token;
    if (token) headers.authorization = `Bearer ${token}`;
    if (opts.body !== undefined) headers["content-type"] = "application/json";
    let res: Response;
    try {
      res = await fetch(this.baseUrl + path, {
        method,
        headers,
        body: opts.body === undefined ? undefined : JSON.stringify(opts.body),
        signal: opts.signal,
      });
    } catch (err) {
      if (opts.signal?.aborted) throw err;
      throw new EdgeError(0, "network", `cannot reach ${this.baseUrl}: ${err instanceof Error ? err.message : String(err)}`);
    }
    if (res.status === 204 || (res.status === 304 && opts.accept304)) {
      await res.body?.cancel();
      return { status: res.status, body: undefined as T, headers: res.headers };
    }
    const text = await res.text();
    let parsed: unknown;
    if (text) {
      try {
        parsed = JSON.parse(text);
      } catch {
        parsed = text;
      }
    }
    if (res.status >= 200 && res.status < 300) return { status: res.status, body: parsed as T, headers: res.headers };
    throw errorFromAnswer(res.status, res.headers, parsed, `HTTP ${res.status} from ${method} ${path}`);
  }

  // ---- Platform Events (docs/API.md "Platform Events"): the runner token's calls -----------------

  /** Renews the subscription leases held (with the last replay id forwarded) and takes free ones. */
  async leaseSubscriptions(body: SubscriptionLeaseBody, signal?: AbortSignal): Promise<SubscriptionLeaseAnswer> {
    const res = await this.request<unknown>("POST", "/v1/runners/subscriptions/lease", { body, signal });
    return SubscriptionLeaseAnswer.parse(res.body);
  }

  /** Forwards a held subscription's events; the answer's replayId is what the edge stored. */
  async forwardPlatformEvents(name: string, leaseEpoch: number, events: PlatformEvent[], signal?: AbortSignal): Promise<PlatformEventsAnswer> {
    const path = `/v1/runners/subscriptions/${encodeURIComponent(name)}/events`;
    const res = await this.request<unknown>("POST", path, { body: { leaseEpoch, events }, signal });
    return PlatformEventsAnswer.parse(res.body);
  }

  // ---- artifacts (docs/API.md "Artifacts"): bytes, not JSON, in both directions ------------------

  /**
   * Uploads `size` bytes from `body` as the artifact `name` of the job's lease, streamed (a Node
   * Readable is an AsyncIterable). `token` is the job token unless this client holds it.
   */
  async putArtifact(
    taskId: string,
    name: string,
    body: ReadableStream<Uint8Array> | AsyncIterable<Uint8Array>,
    opts: { size: number; leaseEpoch: number; contentType?: string; token?: string; signal?: AbortSignal },
  ): Promise<{ artifact: Artifact; created: boolean }> {
    const path = `${artifactPath("jobs", taskId, name)}?leaseEpoch=${opts.leaseEpoch}`;
    const headers: Record<string, string> = {
      accept: "application/json",
      "content-length": String(opts.size),
      "content-type": opts.contentType ?? DEFAULT_ARTIFACT_CONTENT_TYPE,
    };
    const token = opts.token ?? this.token;
    if (token) headers.authorization = `Bearer ${token}`;
    // Node's fetch streams a request body only with duplex "half", which the Workers types do not name.
    const init: RequestInit & { duplex: "half" } = { method: "PUT", headers, body: asStream(body), signal: opts.signal, duplex: "half" };
    const res = await this.send(path, init, opts.signal);
    if (!res.ok) throw await edgeErrorOf(res, "PUT", path);
    const answer = (await res.json()) as { artifact: Artifact };
    return { artifact: answer.artifact, created: res.status === 201 };
  }

  /** The artifact's answer (200, or 206 to `range`) with its body unread, for the caller to stream. */
  async getArtifact(taskId: string, name: string, opts: { range?: string; signal?: AbortSignal } = {}): Promise<Response> {
    const path = artifactPath("tasks", taskId, name);
    const headers: Record<string, string> = { accept: "*/*" };
    if (this.token) headers.authorization = `Bearer ${this.token}`;
    if (opts.range) headers.range = opts.range;
    const res = await this.send(path, { headers, signal: opts.signal }, opts.signal);
    if (!res.ok) throw await edgeErrorOf(res, "GET", path);
    return res;
  }

  private async send(path: string, init: RequestInit, signal?: AbortSignal): Promise<Response> {
    try {
      return await fetch(this.baseUrl + path, init);
    } catch (err) {
      if (signal?.aborted) throw err;
      throw new EdgeError(0, "network", `cannot reach ${this.baseUrl}: ${err instanceof Error ? err.message : String(err)}`);
    }
  }
}

/** A stream of the iterable's chunks, read only as the request is sent. */
function asStream(body: ReadableStream<Uint8Array> | AsyncIterable<Uint8Array>): ReadableStream<Uint8Array> {
  if (body instanceof ReadableStream) return body;
  const it = body[Symbol.asyncIterator]();
  return new ReadableStream<Uint8Array>({
    async pull(controller) {
      const next = await it.next();
      if (next.done) controller.close();
      else controller.enqueue(next.value);
    },
    async cancel(reason) {
      await it.return?.(reason);
    },
  });
}

/** A non-2xx answer as the EdgeError carrying the contract's code (or the one its status stands for). */
async function edgeErrorOf(res: Response, method: string, path: string): Promise<EdgeError> {
  const text = await res.text().catch(() => "");
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch {
    parsed = undefined;
  }
  return errorFromAnswer(res.status, res.headers, parsed, `HTTP ${res.status} from ${method} ${path}`);
}

// Loose on purpose: an answer from a proxy or an older edge still yields what it carries.
const ErrorAnswer = z.object({
  error: z.object({ code: z.string().optional(), message: z.string().optional(), requestId: z.string().optional() }),
});

/**
 * The EdgeError of a non-2xx answer: the contract's code when the body carries one, else the code its
 * status stands for (an answer from a proxy in front of the edge), so callers always decide on `code`.
 */
export function errorFromAnswer(status: number, headers: Headers, parsed: unknown, fallbackMessage: string): EdgeError {
  const err = ErrorAnswer.safeParse(parsed).data?.error;
  const code = isErrorCode(err?.code) ? err.code : codeForStatus(status);
  return new EdgeError(status, code, err?.message ?? fallbackMessage, err?.requestId, Number(headers.get("retry-after")) || undefined);
}
