// Registering, reusing the stored runner token, runner heartbeats and their actions, ephemeral runners.
import { existsSync, readFileSync, statSync } from "node:fs";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { EdgeRunnerApiDouble } from "../../test/doubles/edge-runner-api.ts";
import { startTestManager, tempStateFile, type TestManager } from "./testing.ts";

let edge: EdgeRunnerApiDouble;
const managers: TestManager[] = [];

beforeEach(async () => {
  edge = await EdgeRunnerApiDouble.start({ heartbeatSeconds: 1, pollWaitSeconds: 1, acceptSeconds: 1 });
});

afterEach(async () => {
  for (const m of managers.splice(0)) {
    m.agent.cancelAll("test over");
    await m.exit;
  }
  await edge.close();
});

function start(overrides?: Parameters<typeof startTestManager>[1]): TestManager {
  const m = startTestManager(edge, overrides);
  managers.push(m);
  return m;
}

describe("registration", () => {
  it("registers with its registration token and stores the runner token in a 0600 state file", async () => {
    const m = start({ name: "r1", labels: ["linux", "big"], slots: 3 });
    await edge.waitFor(() => m.agent.state === "idle", 10_000, "idle");
    const [register] = edge.callsTo("POST", /\/v1\/runners\/register$/);
    expect(register.status).toBe(201);
    expect(register.body).toMatchObject({ name: "r1", labels: ["linux", "big"], slots: 3, ephemeral: false, version: m.config.version });
    const runner = [...edge.runners.values()][0];
    const stored = JSON.parse(readFileSync(m.config.stateFile, "utf8"));
    expect(stored).toMatchObject({ edgeUrl: edge.url, runnerId: runner.id, runnerToken: runner.token });
    expect(statSync(m.config.stateFile).mode & 0o777).toBe(0o600);
    // The tokens never reach the log.
    const logText = m.logs.join("\n");
    expect(logText).not.toContain(runner.token);
    expect(logText).not.toContain(m.config.registrationToken);
  });

  it("reuses the stored runner token after a restart without spending another registration token", async () => {
    const stateFile = tempStateFile();
    const first = start({ stateFile, registrationToken: edge.addRegistrationToken(1) });
    await edge.waitFor(() => first.agent.state === "idle", 10_000, "idle");
    first.agent.drain("restart");
    expect(await first.exit).toBe(0);

    const second = start({ stateFile, registrationToken: undefined });
    await edge.waitFor(() => second.agent.state === "idle", 10_000, "idle");
    expect(edge.callsTo("POST", /\/v1\/runners\/register$/)).toHaveLength(1);
    expect(second.agent.runnerId).toBe(first.agent.runnerId);
    const runner = [...edge.runners.values()][0];
    await edge.waitFor(() => edge.callsTo("POST", /\/v1\/runners\/poll$/).some((c) => c.at > Date.now() - 2_000 && c.auth === runner.token), 5_000, "poll");
    expect(second.logged("reusing the stored runner registration")).toHaveLength(1);
  });

  it("registers again when the edge refuses the stored token, if it holds a registration token", async () => {
    const stateFile = tempStateFile();
    const first = start({ stateFile, registrationToken: edge.addRegistrationToken(1) });
    await edge.waitFor(() => first.agent.state === "idle", 10_000, "idle");
    first.agent.drain("restart");
    await first.exit;
    for (const r of edge.runners.values()) r.deleted = true; // revoked by its owner

    const second = start({ stateFile, registrationToken: edge.addRegistrationToken(1) });
    await edge.waitFor(() => second.agent.state === "idle", 10_000, "idle");
    expect(second.agent.runnerId).not.toBe(first.agent.runnerId);
    expect(JSON.parse(readFileSync(stateFile, "utf8")).runnerId).toBe(second.agent.runnerId);
  });

  it("exits with code 2 when it has neither a stored runner token nor a registration token", async () => {
    const m = start({ stateFile: tempStateFile(), registrationToken: undefined });
    expect(await m.exit).toBe(2);
    expect(m.logged("could not register with the edge")[0].error).toMatchObject({ message: expect.stringContaining("SFP_REGISTRATION_TOKEN") });
  });

  it("heartbeats with its state, free slots and CPU/memory/load, and drains when the answer says so", async () => {
    const m = start({ slots: 2 });
    const beats = () => [...edge.runners.values()][0]?.heartbeats ?? [];
    await edge.waitFor(() => beats().length >= 2, 10_000, "heartbeats");
    // Keep one core busy for 1.5 s here (the manager's own process): the next heartbeat samples an
    // interval that holds it, so its CPU share cannot be 0 (a sampler stuck at 0 fails here).
    const before = beats().length;
    const until = Date.now() + 1_500;
    let x = 0;
    while (Date.now() < until) x += Math.sqrt(x + 1);
    // One heartbeat may have been on its way (sampled before the spell); of the next two, one covers it.
    await edge.waitFor(() => beats().length >= before + 2, 10_000, "two heartbeats after the busy spell");
    const after = beats().slice(before, before + 2);
    for (const beat of after) {
      expect(beat).toMatchObject({ state: "idle", freeSlots: 2, activeTasks: [] });
      expect(beat.resources.memoryRssBytes).toBeGreaterThan(0);
      expect(beat.resources.cpuPercent).toBeGreaterThanOrEqual(0);
      expect(beat.resources.cpuPercent).toBeLessThanOrEqual(100);
      expect(beat.resources.load1).toBeGreaterThanOrEqual(0);
    }
    expect(Math.max(...after.map((b) => b.resources.cpuPercent))).toBeGreaterThan(0);
    edge.queueAction(m.agent.runnerId ?? "", { type: "drain" });
    expect(await m.exit).toBe(0);
    expect(m.logged("draining")[0]).toMatchObject({ reason: "the edge asked this runner to drain" });
  });

  it("exits with code 1 after its runner token is refused mid-run", async () => {
    const m = start();
    await edge.waitFor(() => m.agent.state === "idle", 10_000, "idle");
    for (const r of edge.runners.values()) r.deleted = true;
    expect(await m.exit).toBe(1);
  });
});

describe("an ephemeral runner", () => {
  it("runs exactly one job, then deregisters (DELETE /v1/runners/self), forgets its token and exits 0", async () => {
    const m = start({ ephemeral: true });
    const first = edge.enqueueTask({ payload: { fake: { sleepMs: 300 } } });
    const second = edge.enqueueTask();
    expect(await m.exit).toBe(0);
    expect(edge.task(first).finish?.body.outcome).toBe("succeeded");
    expect(edge.task(second).status).toBe("queued");
    expect((edge.callsTo("POST", /\/v1\/runners\/register$/)[0].body as { ephemeral: boolean }).ephemeral).toBe(true);
    const deletes = edge.callsTo("DELETE", /\/v1\/runners\/self$/);
    expect(deletes.map((d) => d.status)).toEqual([204]);
    expect(deletes[0].at).toBeGreaterThanOrEqual(edge.callsTo("POST", /\/finish$/)[0].at);
    expect(existsSync(m.config.stateFile)).toBe(false);
  });

  it("polls again when the one assignment it took could not be accepted", async () => {
    edge.inject({ method: "POST", path: /\/accept$/, action: { status: 409, code: "assignment_expired" } });
    const m = start({ ephemeral: true });
    const taskId = edge.enqueueTask();
    expect(await m.exit).toBe(0);
    expect(edge.task(taskId).finish?.body.outcome).toBe("succeeded");
  });
});
