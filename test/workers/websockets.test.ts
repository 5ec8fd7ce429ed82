import { env, evictDurableObject, runInDurableObject } from "cloudflare:test";
import { describe, expect, it, vi } from "vitest";
import { TaskActor } from "../../actors/task-actor.ts";
import { appendLog, appendProgress, appendProgressInOneTurn, moveTo, runToSuccess } from "./drive.ts";
import { projectStub } from "../../actors/env.ts";
import { api, createTask, openSocket, setup } from "./helpers.ts";

const seqs = (messages: any[]) => messages.filter((m) => m.type === "event").map((m) => m.seq);

describe("task WebSocket", () => {
  it("greets with hello and the task, then gives two subscribers every event in order", async () => {
    const { project, owner } = await setup();
    const t = await createTask(project, owner);
    const a = (await openSocket(`/v1/tasks/${t.id}/ws`, owner)).socket!;
    const b = (await openSocket(`/v1/tasks/${t.id}/ws`, owner)).socket!;
    await a.until((m) => m.length >= 2);
    expect(a.messages[0]).toEqual({ type: "hello", taskId: t.id, version: 1, lastSeq: 1 });
    expect(a.messages[1]).toMatchObject({ type: "task", task: { id: t.id, status: "queued" } });
    await moveTo(t.id, "running");
    for (let i = 0; i < 5; i++) await appendProgress(t.id, i * 20);
    await appendLog(t.id, ["done"]);
    for (const s of [a, b]) {
      await s.until((m) => seqs(m).length === 7);
      expect(seqs(s.messages)).toEqual([2, 3, 4, 5, 6, 7, 8]);
      expect(s.events()[0].event).toMatchObject({ type: "status", status: "running" });
    }
    a.close();
    b.close();
  });

  it("replays exactly the events after the resume point, then goes on live", async () => {
    const { project, owner } = await setup();
    const t = await createTask(project, owner);
    await moveTo(t.id, "running");
    for (let i = 1; i <= 4; i++) await appendProgress(t.id, i * 10); // seqs 3..6
    const s = (await openSocket(`/v1/tasks/${t.id}/ws`, owner)).socket!;
    await s.until((m) => m[0]?.type === "hello");
    expect(s.messages[0].lastSeq).toBe(6);
    s.send({ type: "resume", after: 3 });
    await s.until((m) => seqs(m).length === 3);
    expect(seqs(s.messages)).toEqual([4, 5, 6]);
    await appendProgress(t.id, 90);
    await s.until((m) => seqs(m).length === 4);
    expect(seqs(s.messages)).toEqual([4, 5, 6, 7]);
    // A second resume from further back sends only what this socket never had.
    s.send({ type: "resume", after: 1 });
    await s.until((m) => seqs(m).length === 6);
    expect(seqs(s.messages).sort((x, y) => x - y)).toEqual([2, 3, 4, 5, 6, 7]);
    s.close();
  });

  it("resumes at connect time with ?after= and closes with 1000 after the terminal event", async () => {
    const { project, owner } = await setup();
    const t = await createTask(project, owner);
    await moveTo(t.id, "running");
    const s = (await openSocket(`/v1/tasks/${t.id}/ws?after=0`, owner)).socket!;
    await s.until((m) => seqs(m).length === 2);
    expect(seqs(s.messages)).toEqual([1, 2]);
    await runToSuccess(t.id);
    await s.until(() => s.closed !== null);
    expect(seqs(s.messages)).toEqual([1, 2, 3, 4]);
    expect(s.events().at(-1).event).toMatchObject({ type: "status", status: "succeeded" });
    expect(s.closed!.code).toBe(1000);
  });

  it("sends a ?batch=1 socket the events committed together as one events frame, and a plain socket one frame each", async () => {
    const { project, owner } = await setup();
    const t = await createTask(project, owner);
    await moveTo(t.id, "running");
    const batch = (await openSocket(`/v1/tasks/${t.id}/ws?batch=1`, owner)).socket!;
    const plain = (await openSocket(`/v1/tasks/${t.id}/ws`, owner)).socket!;
    for (const s of [batch, plain]) await s.until((m) => m.length >= 2);
    await appendProgressInOneTurn(t.id, [10, 20, 30, 40, 50]); // seqs 3..7
    await plain.until((m) => seqs(m).length === 5);
    expect(seqs(plain.messages)).toEqual([3, 4, 5, 6, 7]);
    await batch.until((m) => m.some((x) => x.type === "events"));
    const frames = batch.messages.filter((m) => m.type === "events");
    expect(frames).toHaveLength(1);
    expect(frames[0].taskId).toBe(t.id);
    expect(frames[0].events.map((e: { seq: number }) => e.seq)).toEqual([3, 4, 5, 6, 7]);
    expect(frames[0].events[4]).toMatchObject({ type: "progress", percent: 50 });
    expect(seqs(batch.messages)).toEqual([]);

    // A replay comes in events frames too, in seq order, then live; the terminal event closes it.
    const late = (await openSocket(`/v1/tasks/${t.id}/ws?after=0&batch=1`, owner)).socket!;
    const batchSeqs = (m: any[]) => m.filter((x) => x.type === "events").flatMap((x) => x.events.map((e: { seq: number }) => e.seq));
    await late.until((m) => batchSeqs(m).length === 7);
    expect(batchSeqs(late.messages)).toEqual([1, 2, 3, 4, 5, 6, 7]);
    await runToSuccess(t.id);
    for (const s of [late, batch]) {
      await s.until(() => s.closed !== null);
      expect(batchSeqs(s.messages).slice(-2)).toEqual([8, 9]);
      expect(s.closed!.code).toBe(1000);
    }
    plain.close();
  });

  it("keeps working after the actor is evicted while sockets hibernate", async () => {
    const { project, owner } = await setup();
    const t = await createTask(project, owner);
    const s = (await openSocket(`/v1/tasks/${t.id}/ws`, owner)).socket!;
    await s.until((m) => m.length >= 2);
    const stub = env.TASK.get(env.TASK.idFromName(t.id));
    await evictDurableObject(stub, { webSockets: "hibernate" });
    await appendProgress(t.id, 50);
    await s.until((m) => seqs(m).length === 1);
    expect(s.events()[0]).toMatchObject({ seq: 2, event: { type: "progress", percent: 50 } });
    // The socket's resume state survived in its attachment.
    await evictDurableObject(stub, { webSockets: "hibernate" });
    s.send({ type: "resume", after: 0 });
    await s.until((m) => seqs(m).length === 2);
    expect(seqs(s.messages)).toEqual([2, 1]);
    s.close();
  });

  it("answers ping with pong without waking the actor", async () => {
    const { project, owner } = await setup();
    const t = await createTask(project, owner);
    const s = (await openSocket(`/v1/tasks/${t.id}/ws`, owner)).socket!;
    await s.until((m) => m.length >= 2);
    const stub = env.TASK.get(env.TASK.idFromName(t.id));
    await evictDurableObject(stub, { webSockets: "hibernate" });
    // Any message the actor's code handles goes through webSocketMessage, which needs the actor awake.
    const handled = vi.spyOn(TaskActor.prototype, "webSocketMessage");
    try {
      s.send("ping");
      await s.until((m) => m.includes("pong"));
      expect(handled).not.toHaveBeenCalled();
    } finally {
      handled.mockRestore();
    }
    // The runtime itself answered: it stamps the socket's last auto-response (this look wakes the actor).
    const stamps = await runInDurableObject(stub, (_actor, state) => state.getWebSockets().map((ws) => state.getWebSocketAutoResponseTimestamp(ws)));
    expect(stamps).toHaveLength(1);
    expect(stamps[0]).toBeInstanceOf(Date);
    s.close();
  });

  it("answers a malformed client message with an error message and keeps the socket", async () => {
    const { project, owner } = await setup();
    const t = await createTask(project, owner);
    const s = (await openSocket(`/v1/tasks/${t.id}/ws`, owner)).socket!;
    s.send("{nonsense");
    await s.until((m) => m.some((x) => x.type === "error"));
    expect(s.closed).toBeNull();
    s.close();
  });

  it("refuses a missing or bad token, another project's token and a non-upgrade request", async () => {
    const { project, owner } = await setup();
    const other = await setup("other");
    const t = await createTask(project, owner);
    expect((await openSocket(`/v1/tasks/${t.id}/ws`)).status).toBe(401);
    expect((await openSocket(`/v1/tasks/${t.id}/ws`, "sfp_bad.token")).status).toBe(401);
    expect((await openSocket(`/v1/tasks/${t.id}/ws`, other.owner)).status).toBe(404);
    expect((await api("GET", `/v1/tasks/${t.id}/ws`, { token: owner })).status).toBe(400);
  });

  it("takes a ticket once, and refuses it the second time", async () => {
    const { project, owner } = await setup();
    const t = await createTask(project, owner);
    const issued = await api("POST", `/v1/projects/${project}/ws-tickets`, { token: owner });
    expect(issued.status).toBe(201);
    const first = await openSocket(`/v1/tasks/${t.id}/ws?ticket=${encodeURIComponent(issued.body.ticket)}`);
    expect(first.status).toBe(101);
    first.socket!.close();
    const again = await openSocket(`/v1/tasks/${t.id}/ws?ticket=${encodeURIComponent(issued.body.ticket)}`);
    expect(again.status).toBe(401);
    expect((await openSocket(`/v1/tasks/${t.id}/ws?ticket=sfp_forged.ticket`)).status).toBe(401);
  });
});

describe("project feed", () => {
  it("sees the status changes of every task of its project and none of another project", async () => {
    const { project, owner } = await setup("mine");
    const other = await setup("theirs");
    const feed = (await openSocket(`/v1/projects/${project}/ws`, owner)).socket!;
    await feed.until((m) => m[0]?.type === "hello");
    // query: no org lock, so t2 does not wait behind t1 (a waiting task's place is on the feed too).
    const t1 = await createTask(project, owner, { type: "query" });
    const t2 = await createTask(project, owner, { type: "query" });
    const foreign = await createTask(other.project, other.owner);
    await moveTo(t1.id, "running");
    await runToSuccess(t2.id);
    const tasks = () => feed.messages.filter((m) => m.type === "task").map((m) => `${m.task.id}:${m.task.status}`);
    await feed.until(() => tasks().length >= 5);
    expect(tasks()).toEqual(expect.arrayContaining([`${t1.id}:queued`, `${t2.id}:queued`, `${t1.id}:running`, `${t2.id}:running`, `${t2.id}:succeeded`]));
    expect(tasks().filter((x) => x.startsWith(t2.id))).toEqual([`${t2.id}:queued`, `${t2.id}:running`, `${t2.id}:succeeded`]);
    expect(tasks().some((x) => x.startsWith(foreign.id))).toBe(false);
    // Progress is not a status change: at most a throttled summary (project-feed-resume.test.ts), then the status.
    const before = tasks().length;
    await appendProgress(t1.id, 50);
    await moveTo(t1.id, "succeeded");
    await feed.until(() => tasks().at(-1) === `${t1.id}:succeeded`);
    expect(
      tasks()
        .slice(before, -1)
        .every((x) => x === `${t1.id}:running`),
    ).toBe(true);
    feed.close();
  });

  it("refuses another project's token with 404", async () => {
    const { project } = await setup("mine");
    const other = await setup("theirs");
    expect((await openSocket(`/v1/projects/${project}/ws`, other.owner)).status).toBe(404);
  });

  it("answers an upgrade the feed will not take in the contract's error shape with the edge's request id (issue 10: the shared socket manager)", async () => {
    const { project } = await setup("mine");
    const stub = projectStub(env, project);
    const headers = { "x-sfp-request-id": "req-feed-1" };
    const noUpgrade = await stub.fetch(new Request("https://edge/ws", { headers }));
    expect(noUpgrade.status).toBe(426);
    expect(await noUpgrade.json()).toEqual({ error: { code: "invalid_request", message: expect.any(String), requestId: "req-feed-1" } });
    const otherProject = await stub.fetch(new Request("https://edge/ws", { headers: { ...headers, upgrade: "websocket", "x-sfp-project": "prj_other" } }));
    expect(otherProject.status).toBe(404);
    expect(await otherProject.json()).toEqual({ error: { code: "not_found", message: "no such project", requestId: "req-feed-1" } });
  });
});
