// The manager's loopback HTTP surface: /healthz, the edge-signed /v1/wake, /metrics.
import { createHmac, randomBytes } from "node:crypto";
import type { Server } from "node:http";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { WAKE_KEY_LABEL, WAKE_NONCE_HEADER, WAKE_PATH, WAKE_SIGNATURE_HEADER, WAKE_TIMESTAMP_HEADER } from "../../protocol/runner.ts";
import { EdgeRunnerApiDouble } from "../../test/doubles/edge-runner-api.ts";
import { createManagerServer, listen } from "./server.ts";
import { startTestManager, type TestManager } from "./testing.ts";

const ORIGIN_TOKEN = "origin-token-for-tests-0123456789";

let edge: EdgeRunnerApiDouble;
let manager: TestManager;
let server: Server;
let base: string;

async function serve(originToken: string | undefined): Promise<void> {
  server = createManagerServer({
    agent: manager.agent,
    metrics: manager.metrics,
    log: createSilentLogger(),
    originToken,
    version: manager.config.version,
    slots: manager.config.slots,
  });
  const address = await listen(server, "127.0.0.1", 0);
  base = `http://127.0.0.1:${address.port}`;
}

function createSilentLogger() {
  const noop = () => {};
  const logger = { debug: noop, info: noop, warn: noop, error: noop, addSecret: noop, child: () => logger };
  return logger;
}

function signedWake(body: string, opts: { secret?: string; timestamp?: number } = {}): RequestInit {
  const timestamp = String(opts.timestamp ?? Math.floor(Date.now() / 1000));
  const nonce = randomBytes(16).toString("hex");
  const key = createHmac("sha256", opts.secret ?? ORIGIN_TOKEN)
    .update(WAKE_KEY_LABEL)
    .digest();
  const signature = createHmac("sha256", key).update(`${timestamp}.${nonce}.${body}`).digest("hex");
  return {
    method: "POST",
    headers: { "content-type": "application/json", [WAKE_TIMESTAMP_HEADER]: timestamp, [WAKE_NONCE_HEADER]: nonce, [WAKE_SIGNATURE_HEADER]: signature },
    body,
  };
}

const WAKE_BODY = JSON.stringify({ project: "prj_x", pool: "default", queued: 1 });

beforeEach(async () => {
  edge = await EdgeRunnerApiDouble.start({ heartbeatSeconds: 1, pollWaitSeconds: 1 });
  manager = startTestManager(edge);
  await edge.waitFor(() => manager.agent.state === "idle", 10_000, "idle");
  await serve(ORIGIN_TOKEN);
});

afterEach(async () => {
  manager.agent.cancelAll("test over");
  await manager.exit;
  server.closeAllConnections();
  await new Promise((r) => server.close(r));
  await edge.close();
});

describe("GET /healthz", () => {
  it("answers 200 with the manager's state and slots", async () => {
    const res = await fetch(`${base}/healthz`);
    expect(res.status).toBe(200);
    expect(await res.json()).toMatchObject({ ok: true, state: "idle", runnerId: manager.agent.runnerId, slots: 1, freeSlots: 1, activeTasks: 0 });
  });

  it("answers 404 in the contract's error shape for any other route", async () => {
    const res = await fetch(`${base}/v1/anything`);
    expect(res.status).toBe(404);
    expect(await res.json()).toEqual({ error: { code: "not_found", message: expect.any(String), requestId: expect.stringMatching(/^req_/) } });
  });
});

describe("POST /v1/wake", () => {
  it("accepts a wake signed with the origin token and answers 202", async () => {
    const res = await fetch(base + WAKE_PATH, signedWake(WAKE_BODY));
    expect(res.status).toBe(202);
    expect(await res.json()).toMatchObject({ ok: true, woke: true });
  });

  it("refuses a wake with a bad signature with 401 bad_signature", async () => {
    const res = await fetch(base + WAKE_PATH, signedWake(WAKE_BODY, { secret: "not-the-origin-token" }));
    expect(res.status).toBe(401);
    expect(await res.json()).toEqual({ error: { code: "bad_signature", message: expect.any(String), requestId: expect.stringMatching(/^req_/) } });
  });

  it("refuses a wake whose body was changed after signing", async () => {
    const init = signedWake(WAKE_BODY);
    const res = await fetch(base + WAKE_PATH, { ...init, body: WAKE_BODY.replace("1}", "2}") });
    expect(res.status).toBe(401);
  });

  it("refuses a correctly signed wake whose timestamp is more than 5 minutes old with 401 stale_timestamp", async () => {
    const res = await fetch(base + WAKE_PATH, signedWake(WAKE_BODY, { timestamp: Math.floor(Date.now() / 1000) - 301 }));
    expect(res.status).toBe(401);
    expect(((await res.json()) as { error: { code: string } }).error.code).toBe("stale_timestamp");
    const future = await fetch(base + WAKE_PATH, signedWake(WAKE_BODY, { timestamp: Math.floor(Date.now() / 1000) + 330 }));
    expect(future.status).toBe(401);
  });

  it("refuses a wake without the signature headers", async () => {
    const res = await fetch(base + WAKE_PATH, { method: "POST", body: WAKE_BODY });
    expect(res.status).toBe(401);
  });

  it("refuses every wake when no origin token is configured", async () => {
    server.closeAllConnections();
    await new Promise((r) => server.close(r));
    await serve(undefined);
    const res = await fetch(base + WAKE_PATH, signedWake(WAKE_BODY));
    expect(res.status).toBe(404);
  });

  it("makes a manager waiting out a poll backoff poll at once", async () => {
    // Three failed polls put the next one seconds away.
    for (let i = 0; i < 3; i++) edge.inject({ method: "POST", path: /\/v1\/runners\/poll$/, action: { status: 503, code: "unavailable" } });
    const failures = await edge.waitFor(
      () => {
        const logged = manager.logged("poll failed");
        return logged.length >= 3 && logged;
      },
      15_000,
      "three failed polls",
    );
    const backoffEndsAt = Date.now() + Number(failures[2].retryInMs);
    expect(Number(failures[2].retryInMs)).toBeGreaterThanOrEqual(3_000);
    const taskId = edge.enqueueTask();
    expect((await fetch(base + WAKE_PATH, signedWake(WAKE_BODY))).status).toBe(202);
    await edge.waitFor(() => edge.callsTo("POST", new RegExp(`/v1/jobs/${taskId}/accept$`))[0], 10_000, "accept");
    expect(edge.callsTo("POST", new RegExp(`/v1/jobs/${taskId}/accept$`))[0].at).toBeLessThan(backoffEndsAt);
  });
});

describe("GET /metrics", () => {
  it("serves Prometheus text: jobs by outcome, slots, job durations, edge errors by code", async () => {
    edge.inject({ method: "POST", path: /\/finish$/, action: { status: 503, code: "unavailable" } });
    const ok = edge.enqueueTask();
    await edge.waitFor(() => edge.task(ok).finish, 15_000, "finish");
    const crashed = edge.enqueueTask({ payload: { fake: { crashWithCode: 3 } } });
    await edge.waitFor(() => edge.task(crashed).finish, 15_000, "finish");
    await edge.waitFor(() => manager.agent.state === "idle", 5_000, "idle");

    const res = await fetch(`${base}/metrics`);
    expect(res.status).toBe(200);
    expect(res.headers.get("content-type")).toMatch(/^text\/plain; version=0\.0\.4/);
    const text = await res.text();
    expect(text.endsWith("\n")).toBe(true);
    const typed = new Set<string>();
    for (const line of text.trimEnd().split("\n")) {
      if (line.startsWith("# TYPE ")) typed.add(line.split(" ")[2]);
      if (line.startsWith("#")) continue;
      expect(line).toMatch(/^[a-z_:][a-z0-9_:]*(\{([a-z_]+="[^"]*",?)*\})? -?[0-9.e+]+$/);
      const family = line.split(/[{ ]/)[0].replace(/_(bucket|sum|count)$/, "");
      expect(typed.has(family) || typed.has(line.split(/[{ ]/)[0])).toBe(true);
    }
    expect(text).toContain("sfp_runner_jobs_started_total 2\n");
    expect(text).toContain('sfp_runner_jobs_finished_total{outcome="succeeded"} 1\n');
    expect(text).toContain('sfp_runner_jobs_finished_total{outcome="failed"} 1\n');
    expect(text).toContain("sfp_runner_slots_total 1\n");
    expect(text).toContain("sfp_runner_slots_free 1\n");
    expect(text).toContain('sfp_runner_job_duration_seconds_count{outcome="succeeded"} 1\n');
    expect(text).toMatch(/sfp_runner_job_duration_seconds_bucket\{outcome="failed",le="\+Inf"\} 1\n/);
    expect(text).toContain('sfp_runner_edge_errors_total{call="finish",code="unavailable"} 1\n');
  });
});
