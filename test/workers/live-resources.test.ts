// Resources pushed (issue 16): a job heartbeat's sample of its worker reaches the task's sockets (not
// its events) and its peak stays on the task; a runner heartbeat's load reaches the project feed,
// at most once per runner per FEED_RUNNER_SECONDS.
import { env, runInDurableObject } from "cloudflare:test";
import { describe, expect, it } from "vitest";
import { projectStub } from "../../actors/env.ts";
import { api, openSocket } from "./helpers.ts";
import { dispatcher, readTask, RESOURCES, runnerHeartbeat, running } from "./runner-helpers.ts";

function beat(lease: { task: { id: string }; jobToken: string; leaseEpoch: number }, resources?: { cpuPercent: number; memoryRssBytes: number }) {
  return api("POST", `/v1/jobs/${lease.task.id}/heartbeat`, {
    token: lease.jobToken,
    body: { leaseEpoch: lease.leaseEpoch, ...(resources ? { resources } : {}) },
  });
}

describe("resources pushed", () => {
  it("sends a job heartbeat's sample to the task socket, keeps the peak on the task, and stores no event", async () => {
    const { owner, task, lease } = await running();
    const socket = (await openSocket(`/v1/tasks/${task.id}/ws`, owner)).socket!;
    await socket.until((m) => m.some((x) => x.type === "task"));
    const versionBefore = (await readTask(owner, task.id)).version;
    expect((await beat(lease, { cpuPercent: 87.5, memoryRssBytes: 140_000_000 })).status).toBe(200);
    expect((await beat(lease, { cpuPercent: 12, memoryRssBytes: 150_000_000 })).status).toBe(200);
    // A heartbeat without a sample (an older manager) still renews, and pushes nothing.
    expect((await beat(lease)).status).toBe(200);
    const resources = (await socket.until((m) => m.filter((x) => x.type === "resources").length >= 2)).filter((x) => x.type === "resources");
    expect(resources).toHaveLength(2);
    expect(resources[0]).toEqual({
      type: "resources",
      taskId: task.id,
      at: expect.any(String),
      cpuPercent: 87.5,
      memoryRssBytes: 140_000_000,
      peakCpuPercent: 87.5,
      peakMemoryRssBytes: 140_000_000,
    });
    expect(resources[1]).toMatchObject({ cpuPercent: 12, memoryRssBytes: 150_000_000, peakCpuPercent: 87.5, peakMemoryRssBytes: 150_000_000 });
    const read = await readTask(owner, task.id);
    expect(read.resources).toEqual({ peakCpuPercent: 87.5, peakMemoryRssBytes: 150_000_000, at: resources[1].at });
    expect(read.version).toBe(versionBefore);
    expect(socket.events()).toEqual([]);
    socket.close();
  });

  it("refuses a malformed sample with 400", async () => {
    const { lease } = await running();
    const res = await beat(lease, { cpuPercent: -1, memoryRssBytes: 1 });
    expect(res.status).toBe(400);
    expect(res.body.error.code).toBe("invalid_request");
  });

  it("pushes a runner's load on the project feed: manager plus workers, slots, jobs and cgroup, rate-limited per runner", async () => {
    const { project, owner, task, runner } = await running();
    const feed = (await openSocket(`/v1/projects/${project}/ws`, owner)).socket!;
    await feed.until((m) => m[0]?.type === "hello");
    const resources = {
      ...RESOURCES,
      manager: { cpuPercent: 3, memoryRssBytes: 60_000_000 },
      jobs: [{ taskId: task.id, cpuPercent: 95.5, memoryRssBytes: 130_000_000 }],
      cgroup: { cpuUsageUsec: 5_000_000, cpuLimitCores: 2, memoryCurrentBytes: 300_000_000, memoryMaxBytes: 1_000_000_000 },
    };
    const body = { state: "busy", freeSlots: 0, activeTasks: [task.id], resources };
    expect((await runnerHeartbeat(runner.runnerToken, body)).status).toBe(200);
    const [message] = (await feed.until((m) => m.some((x) => x.type === "runner"))).filter((x) => x.type === "runner");
    expect(message).toEqual({
      type: "runner",
      seq: expect.any(Number),
      runner: {
        id: runner.runnerId,
        name: expect.any(String),
        pool: "default",
        status: "busy",
        at: expect.any(String),
        cpuPercent: 98.5,
        memoryRssBytes: 190_000_000,
        slots: 1,
        freeSlots: 0,
        jobs: resources.jobs,
        cgroup: resources.cgroup,
      },
    });
    expect(message.seq).toBeGreaterThan(feed.messages[0].lastSeq);
    // Within FEED_RUNNER_SECONDS of the last one a runner's load does not go out; after it, it does.
    const sent = await runInDurableObject(projectStub(env, project), (instance) => {
      const feedOf = (instance as any).feed;
      const t = Date.now() + 60_000;
      return [feedOf.runner(message.runner, t), feedOf.runner(message.runner, t + 1999), feedOf.runner(message.runner, t + 2000)];
    });
    expect(sent).toEqual([true, false, true]);
    await feed.until((m) => m.filter((x) => x.type === "runner").length === 3);
    // The dispatcher holds back a burst of heartbeats the same way, before they cost the feed a call.
    const forwarded = await runInDurableObject(dispatcher(project), (instance) => {
      const limit = (instance as any).reports.loadLimit;
      const t = Date.now() + 60_000;
      return [limit.take(runner.runnerId, t), limit.take(runner.runnerId, t + 1000), limit.take(runner.runnerId, t + 2000)];
    });
    expect(forwarded).toEqual([true, false, true]);
    feed.close();
  });
});
