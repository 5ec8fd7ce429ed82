import { abortAllDurableObjects, env, evictDurableObject, runInDurableObject } from "cloudflare:test";
import { afterEach, describe, expect, it, vi } from "vitest";
import type { DispatcherActor } from "../../actors/dispatcher-actor.ts";
import type { Assignment } from "../../protocol/index.ts";
import { api, createTask, setup, watchTimers } from "./helpers.ts";
import { accept, dispatcher, finish, fireTimers, parkedPoll, poll, pollOne, readTask, register, runnerHeartbeat, timerNames } from "./runner-helpers.ts";

const ids = (assignments: Assignment[]) => assignments.map((a) => a.taskId);

describe("the queue", () => {
  it("answers a parked poll once an accept frees the slot its pending offer held", async () => {
    const { project, owner } = await setup();
    const runner = await register(project, owner, { slots: 2 });
    const first = await createTask(project, owner, { type: "query" });
    const [offer] = (await poll(runner.runnerToken, { freeSlots: 2 })).body.assignments;
    expect(offer.taskId).toBe(first.id);
    // The manager polls again with its other slot while its accept is still on the way: the pending
    // offer holds that slot, so the poll parks.
    const parked = (await parkedPoll(runner.runnerToken, 20)).answer;
    const second = await createTask(project, owner, { type: "query" });
    expect((await accept(runner.runnerToken, first.id, offer.assignmentId)).status).toBe(200);
    // The accept ended the pending offer: the parked poll takes the second task then, not empty at its timeout.
    expect((await parked).body.assignments.map((a) => a.taskId)).toEqual([second.id]);
  });

  it("offers critical before normal before batch, oldest first within one", async () => {
    const { project, owner } = await setup();
    const runner = await register(project, owner, { slots: 6 });
    const made: Record<string, string> = {};
    for (const name of ["batch1", "normal1", "critical1", "batch2", "normal2", "critical2"]) {
      // query: a type that takes no org lock, so all six wait in the queue at once.
      made[name] = (await createTask(project, owner, { type: "query", priority: name.replace(/\d$/, "") })).id;
    }
    const res = await poll(runner.runnerToken, { freeSlots: 6 });
    expect(ids(res.body.assignments)).toEqual(["critical1", "critical2", "normal1", "normal2", "batch1", "batch2"].map((n) => made[n]));
  });

  it("offers no more tasks than the runner's free slots", async () => {
    const { project, owner } = await setup();
    const runner = await register(project, owner, { slots: 4 });
    for (let i = 0; i < 3; i++) await createTask(project, owner, { type: "query" });
    expect((await poll(runner.runnerToken, { freeSlots: 2 })).body.assignments).toHaveLength(2);
    // The two pending offers count against its slots until accepted or expired.
    expect((await poll(runner.runnerToken, { freeSlots: 2 })).status).toBe(204);
  });

  it("offers a task only to runners that have all its labels", async () => {
    const { project, owner } = await setup();
    const small = await register(project, owner, { name: "small", labels: ["linux"] });
    const big = await register(project, owner, { name: "big", labels: ["linux", "big", "eu"] });
    const needsBig = await createTask(project, owner, { type: "query", labels: ["big", "linux"] });
    const plain = await createTask(project, owner, { type: "query", labels: ["linux"] });
    expect(ids((await poll(small.runnerToken, { freeSlots: 2 })).body.assignments)).toEqual([plain.id]);
    expect(ids((await poll(big.runnerToken, { freeSlots: 2 })).body.assignments)).toEqual([needsBig.id]);
  });

  it("answers a parked poll the moment a matching task is queued", async () => {
    const { project, owner } = await setup();
    const runner = await register(project, owner);
    const parked = (await parkedPoll(runner.runnerToken, 20)).answer;
    expect(await dispatcher(project).queued()).toEqual([]);
    const task = await createTask(project, owner);
    const res = await parked;
    expect(res.status).toBe(200);
    expect(ids(res.body.assignments)).toEqual([task.id]);
  });

  it("answers 204 to a poll when nothing arrives within the wait", async () => {
    const { project, owner } = await setup();
    const runner = await register(project, owner);
    expect((await poll(runner.runnerToken, { waitSeconds: 1 })).status).toBe(204);
  });
});

describe("drain", () => {
  it("offers nothing to a runner that reports draining", async () => {
    const { project, owner } = await setup();
    const draining = await register(project, owner, { name: "draining" });
    const other = await register(project, owner, { name: "other" });
    await runnerHeartbeat(draining.runnerToken, { state: "draining" });
    const task = await createTask(project, owner);
    expect((await poll(draining.runnerToken)).status).toBe(204);
    expect((await pollOne(other.runnerToken)).taskId).toBe(task.id);
  });

  it("asks a runner to drain when the owner says so, and offers it nothing more", async () => {
    const { project, owner } = await setup();
    const runner = await register(project, owner);
    expect((await api("POST", `/v1/projects/${project}/runners/${runner.runnerId}/drain`, { token: owner })).status).toBe(204);
    expect((await runnerHeartbeat(runner.runnerToken)).body.actions).toEqual([{ type: "drain" }]);
    await createTask(project, owner);
    expect((await poll(runner.runnerToken)).status).toBe(204);
    const list = await api("GET", `/v1/projects/${project}/runners`, { token: owner });
    expect(list.body.runners[0].state).toBe("draining");
  });
});

describe("ephemeral runners", () => {
  it("runs one job, is deregistered when it ends, and is never offered a second", async () => {
    const { project, owner } = await setup();
    const eph = await register(project, owner, { ephemeral: true });
    const first = await createTask(project, owner);
    const second = await createTask(project, owner);
    const offers = (await poll(eph.runnerToken, { freeSlots: 4 })).body.assignments;
    expect(ids(offers)).toEqual([first.id]);
    const lease = (await accept(eph.runnerToken, first.id, offers[0].assignmentId)).body;
    expect((await poll(eph.runnerToken)).status).toBe(204);
    await finish(lease);
    expect((await poll(eph.runnerToken)).status).toBe(401);
    expect((await api("DELETE", "/v1/runners/self", { token: eph.runnerToken })).status).toBe(204);
    const other = await register(project, owner, { name: "other" });
    expect((await pollOne(other.runnerToken)).taskId).toBe(second.id);
  });
});

describe("the queue TTL", () => {
  it("fails a task no registered runner could ever take with no_runner", async () => {
    const { project, owner } = await setup();
    await register(project, owner, { labels: ["linux"] });
    const task = await createTask(project, owner, { labels: ["gpu"] });
    await fireTimers(dispatcher(project), "ttl:");
    const read = await readTask(owner, task.id);
    expect(read.status).toBe("failed");
    expect(read.error?.code).toBe("no_runner");
    expect(await dispatcher(project).queued()).toEqual([]);
  });

  it("keeps waiting a task that some registered runner could take", async () => {
    const { project, owner } = await setup();
    await register(project, owner, { labels: ["linux"] });
    const task = await createTask(project, owner, { labels: ["linux"] });
    await fireTimers(dispatcher(project), "ttl:");
    expect((await readTask(owner, task.id)).status).toBe("queued");
    expect(await timerNames(dispatcher(project))).toContain(`ttl:${task.id}`);
  });
});

describe("accept deadlines", () => {
  it("puts an offer back in the queue only once when the alarm runs twice", async () => {
    const { project, owner } = await setup();
    const runner = await register(project, owner);
    const task = await createTask(project, owner);
    await pollOne(runner.runnerToken);
    const stub = dispatcher(project);
    await fireTimers(stub, "accept:");
    await runInDurableObject(stub, async (instance: DispatcherActor) => {
      await instance.alarm();
      await instance.alarm();
    });
    const again = await poll(runner.runnerToken, { freeSlots: 4 });
    expect(ids(again.body.assignments)).toEqual([task.id]);
  });
});

describe("a dispatcher evicted while polls are parked", () => {
  it("gives every parked poll an answer and loses no task", async () => {
    const { project, owner } = await setup();
    const a = await register(project, owner, { name: "a" });
    const b = await register(project, owner, { name: "b" });
    const timers = watchTimers();
    const parked = [a, b].map((r) => api("POST", "/v1/runners/poll", { token: r.runnerToken, body: { freeSlots: 1, waitSeconds: 2 } }));
    await timers.armed(2_000, 2);
    const eviction = evictDurableObject(dispatcher(project));
    const task = await createTask(project, owner);
    await eviction;
    const answers = await Promise.all(parked);
    for (const answer of answers) expect([200, 204]).toContain(answer.status);
    const offered = answers.flatMap((x, i) => (x.status === 200 ? x.body.assignments.map((o: Assignment) => ({ o, r: [a, b][i] })) : []));
    const taken = offered.length
      ? await accept(offered[0].r.runnerToken, task.id, offered[0].o.assignmentId)
      : await accept(a.runnerToken, task.id, (await pollOne(a.runnerToken)).assignmentId);
    expect(taken.status).toBe(200);
    expect((await readTask(owner, task.id)).status).toBe("running");
  });
});

describe("a dispatcher reset while a poll is parked", () => {
  it("answers the parked poll cleanly, and the next poll gets the work", async () => {
    const { project, owner } = await setup();
    const runner = await register(project, owner);
    const parked = (await parkedPoll(runner.runnerToken, 20)).answer;
    await abortAllDurableObjects();
    expect((await parked).status).toBe(204);
    const task = await createTask(project, owner);
    expect((await pollOne(runner.runnerToken)).taskId).toBe(task.id);
  });
});

describe("waking the pool's origin", () => {
  const original = env.POOL_ORIGINS;
  afterEach(() => {
    env.POOL_ORIGINS = original;
    vi.restoreAllMocks();
  });

  /** The wakes sent for `project` (other files' dispatchers share the runtime and, with "*", the origin). */
  function originMock(project: string) {
    const spy = vi.spyOn(globalThis, "fetch").mockImplementation(async () => new Response(null, { status: 202 }));
    return () => spy.mock.calls.filter(([url, init]) => String(url).startsWith("https://origin.test/") && JSON.parse(String(init?.body)).project === project);
  }

  it("sends one signed POST /v1/wake when work arrives and no poll is parked", async () => {
    const { project, owner } = await setup();
    env.POOL_ORIGINS = JSON.stringify({ [`${project}/default`]: "https://origin.test" });
    const wakes = originMock(project);
    await createTask(project, owner);
    await vi.waitFor(() => expect(wakes()).toHaveLength(1));
    const [url, init] = wakes()[0];
    expect(String(url)).toBe("https://origin.test/v1/wake");
    const headers = new Headers(init?.headers);
    const body = String(init?.body);
    expect(JSON.parse(body)).toEqual({ project, pool: "default", queued: 1 });
    expect(headers.get("x-sfp-origin-token")).toBe(env.ORIGIN_TOKEN);
    const timestamp = headers.get("x-sfp-timestamp")!;
    expect(Math.abs(Number(timestamp) - Date.now() / 1000)).toBeLessThan(60);
    const nonce = headers.get("x-sfp-nonce")!;
    const hmac = async (key: BufferSource, text: string) =>
      crypto.subtle.sign("HMAC", await crypto.subtle.importKey("raw", key, { name: "HMAC", hash: "SHA-256" }, false, ["sign"]), new TextEncoder().encode(text));
    const mac = new Uint8Array(await hmac(await hmac(new TextEncoder().encode(env.ORIGIN_TOKEN), "sfp-wake-v1"), `${timestamp}.${nonce}.${body}`));
    expect(headers.get("x-sfp-signature")).toBe([...mac].map((x) => x.toString(16).padStart(2, "0")).join(""));
  });

  it("sends no wake when a parked poll takes the task", async () => {
    const { project, owner } = await setup();
    env.POOL_ORIGINS = JSON.stringify({ "*": "https://origin.test" });
    const wakes = originMock(project);
    const runner = await register(project, owner);
    const parked = (await parkedPoll(runner.runnerToken, 10)).answer;
    await createTask(project, owner);
    expect((await parked).status).toBe(200);
    expect(wakes()).toHaveLength(0);
  });
});
