// Issue 11, "unbounded reads": a socket's replay (on connect with ?after=, or a `resume`) goes out
// page by page, a turn apart — at most REPLAY_PAGE_EVENTS events and about REPLAY_PAGE_CHARS of JSON
// at a time — and still gives every event once, in seq order, before any live one on connect.
import { env, runInDurableObject } from "cloudflare:test";
import { describe, expect, it } from "vitest";
import { REPLAY_PAGE_CHARS, REPLAY_PAGE_EVENTS } from "../../actors/task-watchers.ts";
import type { Task } from "../../protocol/index.ts";
import { appendProgress, moveTo } from "./drive.ts";
import { createTask, openSocket, setup } from "./helpers.ts";

const seqs = (messages: any[]) => messages.filter((m) => m.type === "event").map((m) => m.seq);
const range = (from: number, to: number) => Array.from({ length: to - from + 1 }, (_, i) => from + i);

interface Internals {
  task: Task | null;
  commit(next: Task, drafts: unknown[]): unknown;
  watchers: { message(ws: WebSocket, message: string): void };
}

function stub(taskId: string) {
  return env.TASK.get(env.TASK.idFromName(taskId));
}

/** Appends `n` events in one commit: progress, or log events of `lineChars` characters each. */
function appendMany(taskId: string, n: number, lineChars = 0) {
  return runInDurableObject(stub(taskId), (instance) => {
    const a = instance as unknown as Internals;
    const drafts = Array.from({ length: n }, (_, i) =>
      lineChars ? { type: "log", lines: [`${i}:${"y".repeat(lineChars)}`] } : { type: "progress", percent: i % 100 },
    );
    a.commit({ ...a.task! }, drafts);
  });
}

/** A stand-in for an accepted socket: its attachment, and every frame sent to it. */
function fakeSocket(project: string, floorSeq: number) {
  let attachment: unknown = { sfp: { project, floorSeq } };
  const frames: string[] = [];
  const ws = {
    send: (text: string) => frames.push(text),
    close: () => {},
    serializeAttachment: (value: unknown) => {
      attachment = value;
    },
    deserializeAttachment: () => attachment,
  };
  return { ws: ws as unknown as WebSocket, frames };
}

const microtasks = async () => {
  for (let i = 0; i < 20; i++) await Promise.resolve();
};

describe("socket replays, paged", () => {
  it("sends a resume's replay one bounded page per turn, every event once and in order", async () => {
    const { project, owner } = await setup();
    const t = await createTask(project, owner);
    await moveTo(t.id, "running");
    await appendMany(t.id, 3 * REPLAY_PAGE_EVENTS + 10);
    const last = 3 * REPLAY_PAGE_EVENTS + 12;
    const sent = await runInDurableObject(stub(t.id), async (instance) => {
      const a = instance as unknown as Internals;
      const { ws, frames } = fakeSocket(project, last);
      a.watchers.message(ws, JSON.stringify({ type: "resume", after: 0 }));
      await microtasks();
      const firstTurn = frames.length;
      for (let i = 0; i < 200 && frames.length < last; i++) await new Promise((r) => setTimeout(r, 5));
      return { firstTurn, all: frames.map((f) => JSON.parse(f)) };
    });
    expect(sent.firstTurn).toBeGreaterThan(0);
    expect(sent.firstTurn).toBeLessThanOrEqual(REPLAY_PAGE_EVENTS);
    expect(sent.all.map((m) => m.seq)).toEqual(range(1, last));
    expect(sent.all[1]).toMatchObject({ type: "event", taskId: t.id, seq: 2, event: { type: "status", status: "running", seq: 2 } });
  });

  it("bounds a page by size too: big events go out a few at a time", async () => {
    const { project, owner } = await setup();
    const t = await createTask(project, owner);
    const chars = 20_000;
    await appendMany(t.id, 40, chars);
    const sent = await runInDurableObject(stub(t.id), async (instance) => {
      const a = instance as unknown as Internals;
      const { ws, frames } = fakeSocket(project, 41);
      a.watchers.message(ws, JSON.stringify({ type: "resume", after: 0 }));
      await microtasks();
      const firstTurn = frames.reduce((n, f) => n + f.length, 0);
      for (let i = 0; i < 200 && frames.length < 41; i++) await new Promise((r) => setTimeout(r, 5));
      return { firstTurn, seqs: frames.map((f) => JSON.parse(f).seq) };
    });
    expect(sent.firstTurn).toBeGreaterThan(0);
    expect(sent.firstTurn).toBeLessThanOrEqual(REPLAY_PAGE_CHARS + chars + 200);
    expect(sent.seqs).toEqual(range(1, 41));
  });

  it("on connect with ?after=, replays a long history before any live event that arrives meanwhile, each once", async () => {
    const { project, owner } = await setup();
    const t = await createTask(project, owner);
    await moveTo(t.id, "running");
    await appendMany(t.id, 5 * REPLAY_PAGE_EVENTS);
    const history = 5 * REPLAY_PAGE_EVENTS + 2;
    const s = (await openSocket(`/v1/tasks/${t.id}/ws?after=0`, owner)).socket!;
    // Live events committed while the replay is still paging.
    for (let i = 1; i <= 3; i++) await appendProgress(t.id, i);
    await s.until((m) => seqs(m).length >= history + 3, 15_000);
    expect(seqs(s.messages)).toEqual(range(1, history + 3));
    s.close();
  });
});
