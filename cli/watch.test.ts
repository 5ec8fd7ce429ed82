import { describe, expect, it } from "vitest";
import { EdgeClient, EdgeError, type EdgeResponse } from "../protocol/client.ts";
import type { ServerMessage, Task, TaskEvent } from "../protocol/index.ts";
import { EventPrinter, progressBar } from "./render.ts";
import { memoryIo } from "./test-io.ts";
import { watchTask, type WebSocketFactory } from "./watch.ts";

const at = "2026-01-01T00:00:00.000Z";
const status = (seq: number, s: Task["status"]): TaskEvent => ({ seq, at, type: "status", status: s, attempt: 1 });
const log = (seq: number, line: string): TaskEvent => ({ seq, at, type: "log", lines: [line] });

function task(status: Task["status"], version: number): Task {
  return {
    id: "tsk_1",
    project: "prj_1",
    type: "deploy",
    org: "demo",
    payload: {},
    priority: "normal",
    pool: "default",
    labels: [],
    status,
    attempt: 1,
    maxAttempts: 3,
    timeoutSeconds: 60,
    version,
    createdAt: at,
    updatedAt: at,
    source: { kind: "api", tokenId: "tok_1" },
  };
}

/** Answers GETs from a script; records the paths asked. */
class ScriptedClient extends EdgeClient {
  readonly paths: string[] = [];
  private readonly answer: (path: string) => unknown;
  constructor(answer: (path: string) => unknown) {
    super("http://edge.test", "tok");
    this.answer = answer;
  }
  override async request<T>(_method: string, path: string): Promise<EdgeResponse<T>> {
    this.paths.push(path);
    const body = this.answer(path);
    if (body instanceof EdgeError) throw body;
    return { status: 200, body: body as T, headers: new Headers() };
  }
}

type Script = (ws: FakeSocket) => void;
class FakeSocket {
  readyState = 0;
  private listeners: Record<string, ((ev: never) => void)[]> = {};
  readonly url: string;
  readonly headers: Record<string, string>;
  constructor(url: string, headers: Record<string, string>) {
    this.url = url;
    this.headers = headers;
  }
  addEventListener(type: string, fn: (ev: never) => void) {
    const list = this.listeners[type] ?? [];
    list.push(fn);
    this.listeners[type] = list;
  }
  emit(type: string, ev: unknown) {
    for (const fn of this.listeners[type] ?? []) (fn as (e: unknown) => void)(ev);
  }
  open() {
    this.readyState = 1;
    this.emit("open", {});
  }
  message(m: ServerMessage) {
    this.emit("message", { data: JSON.stringify(m) });
  }
  /** What undici does after a refused handshake: an error event, and no close event ever. */
  failHandshake() {
    this.emit("error", {});
  }
  send() {}
  close(code = 1000) {
    this.readyState = 3;
    this.emit("close", { code, reason: "" });
  }
}

function sockets(scripts: Script[]): { factory: WebSocketFactory; made: FakeSocket[] } {
  const made: FakeSocket[] = [];
  const factory: WebSocketFactory = (url, headers) => {
    const ws = new FakeSocket(url, headers);
    made.push(ws);
    const script = scripts[made.length - 1];
    setTimeout(() => script?.(ws), 1);
    return ws;
  };
  return { factory, made };
}

describe("task watch", () => {
  it("sends the token as a header, and after a drop resumes with ?after= the last seq, delivering each event once", async () => {
    let done = false;
    const client = new ScriptedClient(() => ({ task: done ? task("succeeded", 4) : task("running", 2) }));
    const { factory, made } = sockets([
      (ws) => {
        ws.open();
        ws.message({ type: "event", taskId: "tsk_1", seq: 1, event: status(1, "queued") });
        ws.message({ type: "event", taskId: "tsk_1", seq: 2, event: status(2, "running") });
        ws.close(1006);
      },
      (ws) => {
        ws.open();
        // A replay overlapping what was seen live must not be shown twice.
        ws.message({ type: "event", taskId: "tsk_1", seq: 2, event: status(2, "running") });
        ws.message({ type: "event", taskId: "tsk_1", seq: 3, event: log(3, "deploying") });
        done = true;
        ws.message({ type: "event", taskId: "tsk_1", seq: 4, event: status(4, "succeeded") });
        ws.close(1000);
      },
    ]);
    const seen: number[] = [];
    const notices: string[] = [];
    const final = await watchTask({ client, taskId: "tsk_1", webSocket: factory, onEvent: (e) => seen.push(e.seq), onNotice: (t) => notices.push(t) });
    expect(final.status).toBe("succeeded");
    expect(seen).toEqual([1, 2, 3, 4]);
    expect(made.map((w) => new URL(w.url).searchParams.get("after"))).toEqual(["0", "2"]);
    expect(made[0].url).toMatch(/^ws:\/\/edge\.test\/v1\/tasks\/tsk_1\/ws\?/);
    expect(made[0].headers).toEqual({ authorization: "Bearer tok" });
    expect(notices[0]).toMatch(/resuming after event 2/);
  });

  it("falls back to long-polling when WebSockets never open", async () => {
    let polled = 0;
    const client = new ScriptedClient((path) => {
      if (path.includes("/events")) {
        polled++;
        return polled === 1 ? { events: [status(1, "queued")], lastSeq: 1, done: false } : { events: [status(2, "canceled")], lastSeq: 2, done: true };
      }
      return { task: polled >= 2 ? task("canceled", 2) : task("queued", 1) };
    });
    const { factory, made } = sockets([(ws) => ws.close(1006), (ws) => ws.close(1006), (ws) => ws.close(1006)]);
    const seen: number[] = [];
    const notices: string[] = [];
    const final = await watchTask({ client, taskId: "tsk_1", webSocket: factory, onEvent: (e) => seen.push(e.seq), onNotice: (t) => notices.push(t) });
    expect(made).toHaveLength(3);
    expect(final.status).toBe("canceled");
    expect(seen).toEqual([1, 2]);
    expect(client.paths).toContain("/v1/tasks/tsk_1?wait=25&version=1");
    expect(notices.at(-1)).toMatch(/long-polling/);
  });

  it("counts a refused handshake that never closes (undici) as a failed attempt", async () => {
    const client = new ScriptedClient((path) =>
      path.includes("/events") ? { events: [status(1, "queued"), status(2, "failed")], lastSeq: 2, done: true } : { task: task("failed", 2) },
    );
    const { factory, made } = sockets([(ws) => ws.failHandshake(), (ws) => ws.failHandshake(), (ws) => ws.failHandshake()]);
    const seen: number[] = [];
    const final = await watchTask({ client, taskId: "tsk_1", webSocket: factory, onEvent: (e) => seen.push(e.seq), onNotice: () => {} });
    expect(made).toHaveLength(3);
    expect(seen).toEqual([1, 2]);
    expect(final.status).toBe("failed");
  });

  it("answers at once for a finished task whose events were all seen", async () => {
    const client = new ScriptedClient(() => ({ task: task("failed", 5) }));
    const final = await watchTask({
      client,
      taskId: "tsk_1",
      after: 5,
      webSocket: () => {
        throw new Error("no socket expected");
      },
      onEvent: () => {},
      onNotice: () => {},
    });
    expect(final.status).toBe("failed");
  });

  it("stops with the edge's error for an unknown task rather than retrying", async () => {
    const client = new ScriptedClient(() => new EdgeError(404, "not_found", "no such task"));
    await expect(watchTask({ client, taskId: "tsk_x", onEvent: () => {}, onNotice: () => {} })).rejects.toMatchObject({ status: 404 });
  });
});

describe("event output", () => {
  it("draws a progress bar", () => {
    expect(progressBar({ percent: 50, step: "deploy", message: "3/6 components" }, 10)).toBe("[#####.....]  50%  deploy: 3/6 components");
  });

  it("prints plain lines when piped and keeps a redrawn bar on a terminal", () => {
    const piped = memoryIo();
    const p = new EventPrinter(piped.io, false);
    p.event({ seq: 2, at, type: "progress", percent: 40, step: "deploy" });
    p.event(log(3, "line one"));
    expect(piped.stdout()).toBe("[progress] 40% deploy\nline one\n");

    const tty = memoryIo({}, { tty: true });
    const t = new EventPrinter(tty.io, false);
    t.event({ seq: 2, at, type: "progress", percent: 40, step: "deploy" });
    t.event(log(3, "line one"));
    expect(tty.stdout()).toContain("\r\x1b[2K[##########");
    expect(tty.stdout()).toContain("\r\x1b[2Kline one\n[##########");
  });

  it("prints one JSON object a line with --json", () => {
    const m = memoryIo();
    const p = new EventPrinter(m.io, true);
    p.event(status(1, "queued"));
    p.finish(task("succeeded", 3));
    const lines = m
      .stdout()
      .trim()
      .split("\n")
      .map((l) => JSON.parse(l));
    expect(lines[0]).toEqual({ event: status(1, "queued") });
    expect(lines[1].task.status).toBe("succeeded");
  });
});
