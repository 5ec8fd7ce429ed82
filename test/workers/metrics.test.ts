// Edge metrics (issue 16): the counters reach the MetricsActor's durable rows and come out as
// Prometheus text on GET /v1/admin/metrics (admin only); each record is an Analytics Engine data point too.
import { env } from "cloudflare:test";
import { describe, expect, it, vi } from "vitest";
import { count, flush, gauge, type MetricRecord } from "../../actors/metrics.ts";
import { moveTo, runToSuccess } from "./drive.ts";
import { ADMIN_TOKEN, api, createTask, openSocket, setup } from "./helpers.ts";
import { fireTimers, running, taskActor } from "./runner-helpers.ts";
import { deliver, GITHUB_SECRET, githubSignature, putSource } from "./webhooks-helpers.ts";

async function scrape(): Promise<string> {
  const res = await api("GET", "/v1/admin/metrics", { token: ADMIN_TOKEN });
  expect(res.status).toBe(200);
  expect(res.headers.get("content-type")).toBe("text/plain; version=0.0.4; charset=utf-8");
  return String(res.body);
}

/** The value of one series (0 when absent). */
function value(text: string, series: string): number {
  const line = text.split("\n").find((l) => l.startsWith(`${series} `));
  return line ? Number(line.slice(series.length + 1)) : 0;
}

async function until(series: string, check: (v: number) => boolean): Promise<number> {
  let last = 0;
  await vi.waitFor(
    async () => {
      last = value(await scrape(), series);
      if (!check(last)) throw new Error(`${series} is ${last}`);
    },
    { timeout: 10_000, interval: 50 },
  );
  return last;
}

describe("edge metrics", () => {
  it("answers Prometheus text to the admin token only, in the contract's error shape otherwise", async () => {
    const { owner } = await setup("metrics-auth");
    expect((await api("GET", "/v1/admin/metrics")).status).toBe(401);
    const forbidden = await api("GET", "/v1/admin/metrics", { token: owner });
    expect(forbidden.status).toBe(403);
    expect(forbidden.body.error).toMatchObject({ code: "forbidden", requestId: expect.any(String) });
    await count(env, "sfp_lease_lapses_total", {}, 0);
    const text = await scrape();
    expect(text).toContain("# TYPE sfp_lease_lapses_total counter");
  });

  it("counts tasks created by type and finished by type and outcome, and queue depth and age per pool", async () => {
    const { project, owner } = await setup("metrics-tasks");
    const created = `sfp_tasks_created_total{type="org-check"}`;
    const finished = `sfp_tasks_finished_total{outcome="succeeded",type="org-check"}`;
    const depth = `sfp_queue_depth{pool="default",project="${project}"}`;
    const [c0, f0] = [value(await scrape(), created), value(await scrape(), finished)];
    const t = await createTask(project, owner, { type: "org-check" });
    await until(created, (v) => v === c0 + 1);
    await until(depth, (v) => v === 1);
    expect(value(await scrape(), `sfp_queue_age_seconds{pool="default",project="${project}"}`)).toBeGreaterThanOrEqual(0);
    await moveTo(t.id, "running");
    await runToSuccess(t.id);
    await until(finished, (v) => v === f0 + 1);
    // Read again: counted once, not per scrape or per summary.
    expect(value(await scrape(), created)).toBe(c0 + 1);
  });

  it("counts webhook deliveries by source kind and answer, lease lapses, and sockets opened, closed and open", async () => {
    const { project, owner } = await setup("metrics-misc");
    const source = await putSource(project, owner, "gh", { kind: "github", secret: GITHUB_SECRET, rules: [] });
    const ok = `sfp_webhook_deliveries_total{answer="200",kind="github"}`;
    const bad = `sfp_webhook_deliveries_total{answer="401",kind="github"}`;
    const [ok0, bad0] = [value(await scrape(), ok), value(await scrape(), bad)];
    const body = JSON.stringify({ zen: "hi", hook_id: 1 });
    const headers = { "content-type": "application/json", "x-github-event": "ping", "x-github-delivery": crypto.randomUUID() };
    expect((await deliver(source.id, body, { ...headers, "x-hub-signature-256": await githubSignature(body) })).status).toBe(200);
    expect((await deliver(source.id, body, { ...headers, "x-hub-signature-256": "sha256=00" })).status).toBe(401);
    await until(ok, (v) => v === ok0 + 1);
    await until(bad, (v) => v === bad0 + 1);

    const lapses = "sfp_lease_lapses_total";
    const l0 = value(await scrape(), lapses);
    const { task } = await running();
    await fireTimers(taskActor(task.id), "lease");
    await until(lapses, (v) => v === l0 + 1);

    const opened = `sfp_sockets_opened_total{kind="project"}`;
    const closed = `sfp_sockets_closed_total{kind="project"}`;
    const [o0, x0] = [value(await scrape(), opened), value(await scrape(), closed)];
    const feed = (await openSocket(`/v1/projects/${project}/ws`, owner)).socket!;
    await feed.until((m) => m[0]?.type === "hello");
    await until(opened, (v) => v === o0 + 1);
    feed.close();
    await until(closed, (v) => v === x0 + 1);
    expect(value(await scrape(), `sfp_sockets_open{kind="project"}`)).toBe(Math.max(0, o0 + 1 - (x0 + 1)));
  });

  it("writes each record to Analytics Engine (a no-op dataset locally) and batches the actor's adds", async () => {
    expect(env.METRICS_AE).toBeDefined();
    expect(() => env.METRICS_AE?.writeDataPoint({ indexes: ["x"], doubles: [1] })).not.toThrow();
    const points: unknown[] = [];
    const fake = { METRICS: env.METRICS, METRICS_AE: { writeDataPoint: (p: unknown) => points.push(p) } };
    const name = `sfp_test_${crypto.randomUUID().slice(0, 8)}_total`;
    await Promise.all([count(fake, name, { kind: "a" }), count(fake, name, { kind: "a" }, 2), gauge(fake, "sfp_test_gauge", { pool: "p" }, 7)]);
    await flush(fake);
    expect(points).toContainEqual({ indexes: [name], blobs: [name, "counter", "kind=a"], doubles: [2] });
    expect(points).toContainEqual({ indexes: ["sfp_test_gauge"], blobs: ["sfp_test_gauge", "gauge", "pool=p"], doubles: [7] });
    await until(`${name}{kind="a"}`, (v) => v === 3);
  });

  it("sends what one isolate records within the linger as one batch to the actor", async () => {
    const batches: MetricRecord[][] = [];
    const actor = { add: async (batch: MetricRecord[]) => void batches.push(batch) };
    const fake = { METRICS: { idFromName: (name: string) => name, get: () => actor } as unknown as typeof env.METRICS, METRICS_AE: undefined };
    const name = `sfp_test_${crypto.randomUUID().slice(0, 8)}_total`;
    await Promise.all([count(fake, name, { kind: "a" }), count(fake, name, { kind: "a" }, 2), gauge(fake, "sfp_test_gauge", { pool: "q" }, 5)]);
    expect(batches).toHaveLength(1);
    expect(batches[0]).toEqual(
      expect.arrayContaining([
        { name, labels: { kind: "a" }, kind: "counter", value: 3 },
        { name: "sfp_test_gauge", labels: { pool: "q" }, kind: "gauge", value: 5 },
      ]),
    );
  });
});
