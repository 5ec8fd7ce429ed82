// The project feed resumes (issue 16): every message carries the feed's seq, ?after= and `resume`
// replay exactly what a client missed, and past the replay window the feed answers `reset`.
import { env, runInDurableObject } from "cloudflare:test";
import { describe, expect, it } from "vitest";
import { projectStub } from "../../actors/env.ts";
import { FEED_REPLAY_MESSAGES } from "../../protocol/index.ts";
import { appendProgress, moveTo } from "./drive.ts";
import { createTask, openSocket, setup } from "./helpers.ts";

const taskMessages = (messages: any[]) => messages.filter((m) => m.type === "task");
const line = (m: any) => `${m.task.id}:${m.task.status}`;

async function feed(project: string, owner: string, query = "") {
  const socket = (await openSocket(`/v1/projects/${project}/ws${query}`, owner)).socket!;
  await socket.until((m) => m[0]?.type === "hello");
  return socket;
}

describe("project feed resume", () => {
  it("numbers every message, and a client back with ?after= sees exactly the three changes it missed, once", async () => {
    const { project, owner } = await setup("resume");
    const first = await feed(project, owner);
    const tasks = [];
    for (let i = 0; i < 3; i++) tasks.push(await createTask(project, owner, { type: "query" }));
    await first.until((m) => taskMessages(m).length === 3);
    const seqs = taskMessages(first.messages).map((m) => m.seq);
    expect(seqs).toEqual([...seqs].sort((a, b) => a - b));
    expect(new Set(seqs).size).toBe(3);
    const seen = seqs[2];
    first.close();

    for (const t of tasks) await moveTo(t.id, "running");
    const back = await feed(project, owner, `?after=${seen}`);
    expect(back.messages[0]).toMatchObject({ type: "hello", project, lastSeq: seen + 3 });
    await back.until((m) => taskMessages(m).length === 3);
    expect(taskMessages(back.messages).map(line)).toEqual(tasks.map((t) => `${t.id}:running`));
    expect(taskMessages(back.messages).map((m) => m.seq)).toEqual([seen + 1, seen + 2, seen + 3]);

    // Live goes on after the replay, and a resume on the open socket repeats nothing it was sent.
    await moveTo(tasks[0].id, "succeeded");
    await back.until((m) => taskMessages(m).length === 4);
    back.send({ type: "resume", after: seen });
    await moveTo(tasks[1].id, "succeeded");
    await back.until((m) => taskMessages(m).length === 5);
    expect(taskMessages(back.messages).map(line)).toEqual([...tasks.map((t) => `${t.id}:running`), `${tasks[0].id}:succeeded`, `${tasks[1].id}:succeeded`]);
    // An earlier resume point replays only what this socket never had (the three creations).
    back.send({ type: "resume", after: seqs[0] - 1 });
    await back.until((m) => taskMessages(m).length === 8);
    expect(taskMessages(back.messages).slice(5).map(line)).toEqual(tasks.map((t) => `${t.id}:queued`));
    expect(back.messages.some((m) => m.type === "reset")).toBe(false);
    back.close();
  });

  it("answers reset past the replay window, by age and by count, and for a seq it never gave", async () => {
    const { project, owner } = await setup("reset");
    const t = await createTask(project, owner, { type: "query" });
    const stub = projectStub(env, project);
    // Age: the kept messages are older than the window.
    await runInDurableObject(stub, (_o, state) => state.storage.sql.exec("UPDATE sfp_feed SET at = 0"));
    const old = await feed(project, owner, "?after=0");
    await old.until((m) => m.length >= 2);
    expect(old.messages[1]).toEqual({ type: "reset", lastSeq: old.messages[0].lastSeq });
    expect(taskMessages(old.messages)).toEqual([]);
    // A reset client re-lists and goes on live from hello's lastSeq.
    await moveTo(t.id, "running");
    await old.until((m) => taskMessages(m).length === 1);
    old.close();

    // Count: more changes than the window keeps; a client that saw the first misses too many.
    const base = await feed(project, owner);
    const before = base.messages[0].lastSeq;
    base.close();
    await runInDurableObject(stub, (instance) => {
      const summary = { id: t.id, project, status: "running" };
      for (let i = 0; i < FEED_REPLAY_MESSAGES + 5; i++) (instance as any).feed.broadcast([{ ...summary, version: 100 + i }]);
    });
    const late = await feed(project, owner, `?after=${before}`);
    await late.until((m) => m.length >= 2);
    expect(late.messages[1]).toEqual({ type: "reset", lastSeq: before + FEED_REPLAY_MESSAGES + 5 });
    late.close();
    // Within the window it still replays: the last five.
    const recent = await feed(project, owner, `?after=${before + FEED_REPLAY_MESSAGES}`);
    await recent.until((m) => taskMessages(m).length === 5);
    expect(recent.messages.some((m) => m.type === "reset")).toBe(false);
    recent.close();
    // A seq ahead of the feed is not one it gave.
    const ahead = await feed(project, owner, `?after=${before + 10_000}`);
    await ahead.until((m) => m.length >= 2);
    expect(ahead.messages[1]).toMatchObject({ type: "reset" });
    ahead.close();
  });

  it("keeps its stored window bounded as messages pour in, cutting back in steps rather than per message", async () => {
    const { project, owner } = await setup("bounded");
    const t = await createTask(project, owner, { type: "query" });
    const stub = projectStub(env, project);
    const stored = () => runInDurableObject(stub, (_o, state) => state.storage.sql.exec<{ n: number }>("SELECT COUNT(*) AS n FROM sfp_feed").one().n);
    const sizes: number[] = [];
    for (let round = 0; round < 6; round++) {
      await runInDurableObject(stub, (instance) => {
        const summary = { id: t.id, project, status: "running" };
        for (let i = 0; i < 50; i++) (instance as any).feed.broadcast([{ ...summary, version: 1000 + round * 50 + i }]);
      });
      if (round === 0)
        await runInDurableObject(stub, (instance) => {
          const summary = { id: t.id, project, status: "running" };
          for (let i = 0; i < FEED_REPLAY_MESSAGES; i++) (instance as any).feed.broadcast([{ ...summary, version: 2000 + i }]);
        });
      sizes.push(await stored());
    }
    // Never more than the window and its slack of 100; and it did cut (it is not simply growing).
    expect(Math.max(...sizes)).toBeLessThanOrEqual(FEED_REPLAY_MESSAGES + 100);
    expect(sizes.some((n, i) => i > 0 && n < sizes[i - 1])).toBe(true);
    // What a client is told is still exact: a resume one past the window is a reset.
    const last = (await feed(project, owner)).messages[0].lastSeq;
    const late = await feed(project, owner, `?after=${last - FEED_REPLAY_MESSAGES - 1}`);
    await late.until((m) => m.length >= 2);
    expect(late.messages[1]).toEqual({ type: "reset", lastSeq: last });
    late.close();
  });

  it("carries a running task's progress, at most one summary per task per throttle period", async () => {
    const { project, owner } = await setup("progress");
    const t = await createTask(project, owner, { type: "query" });
    const socket = await feed(project, owner);
    const started = Date.now();
    await moveTo(t.id, "running");
    for (let i = 1; i <= 5; i++) await appendProgress(t.id, i * 10);
    const elapsed = Date.now() - started;
    await moveTo(t.id, "succeeded");
    await socket.until((m) => taskMessages(m).some((x) => x.task.status === "succeeded"));
    const progressOnly = taskMessages(socket.messages).filter((m) => m.task.status === "running").length - 1;
    // Five progress events, a status change just before: none within the period, one per period after.
    expect(progressOnly).toBeLessThanOrEqual(Math.floor(elapsed / 2000));
    // Once the period has passed (the actor's clock is wound back), the next progress goes out.
    const u = await createTask(project, owner, { type: "query" });
    await moveTo(u.id, "running");
    await runInDurableObject(env.TASK.get(env.TASK.idFromName(u.id)), (instance) => {
      (instance as any).feedSentAt = 0;
    });
    await appendProgress(u.id, 77);
    await socket.until((m) => taskMessages(m).some((x) => x.task.id === u.id && x.task.progress?.percent === 77));
    socket.close();
  });
});
