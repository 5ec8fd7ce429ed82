// Issue 14, outbound webhooks: endpoints per project, Standard Webhooks deliveries checked by the
// reference library on a loopback receiver, retries with one webhook-id and growing gaps (timers
// driven, not waited for), durability across eviction, 410 and exhausted schedules disabling an
// endpoint with a notice, redelivery, secret rotation, and the URL rules.
import { evictDurableObject, runInDurableObject } from "cloudflare:test";
import { Webhook } from "standardwebhooks";
import { afterEach, describe, expect, it, vi } from "vitest";
import { DELIVERY_SCHEDULE_MS } from "../../actors/notify-deliveries.ts";
import { api, createTask, setup } from "./helpers.ts";
import { allowLoopback, deliveries, projectActor, putEndpoint, receiver, retryNow } from "./notify-helpers.ts";

let restore: (() => void) | undefined;
afterEach(() => restore?.());

const gap = (d: { lastAttemptAt: string | null; nextAttemptAt: string | null }) => Date.parse(d.nextAttemptAt ?? "") - Date.parse(d.lastAttemptAt ?? "");

async function endpointOn(events: string[] = ["task.*"], responses: number[] = [], hold = false) {
  restore = allowLoopback(true);
  const { project, owner } = await setup();
  const rx = receiver();
  const put = await putEndpoint(project, owner, "ci", { url: rx.url, events });
  expect(put.status).toBe(200);
  expect(put.body.secret).toMatch(/^whsec_[A-Za-z0-9+/]{32}$/);
  await rx.script(put.body.secret, responses, hold);
  return { project, owner, rx, secret: put.body.secret as string };
}

async function cancelNewTask(project: string, owner: string) {
  const task = await createTask(project, owner);
  const res = await api("POST", `/v1/tasks/${task.id}/cancel`, { token: owner });
  expect(res.status).toBe(202);
  return task;
}

describe("notification endpoints", () => {
  it("answers the secret once, never again; PUT again keeps it; only owners", async () => {
    const { project, owner, rx, secret } = await endpointOn(["task.failed"]);
    // Sealed at rest: the stored row holds no trace of the secret.
    const rows = await runInDurableObject(projectActor(project), (_i, state) => state.storage.sql.exec("SELECT * FROM sfp_notify_endpoints").toArray());
    expect(JSON.stringify(rows)).not.toContain(secret.slice(6, 30));
    const again = await putEndpoint(project, owner, "ci", { url: rx.url, events: ["task.succeeded", "task.failed"] });
    expect(again.status).toBe(200);
    expect(again.body.secret).toBeUndefined();
    expect(again.body.endpoint).toMatchObject({ name: "ci", events: ["task.succeeded", "task.failed"], enabled: true, disabledReason: null });
    const list = await api("GET", `/v1/projects/${project}/notification-endpoints`, { token: owner });
    expect(JSON.stringify(list.body)).not.toContain("whsec_");
    const one = await api("GET", `/v1/projects/${project}/notification-endpoints/ci`, { token: owner });
    expect(one.body.endpoint.url).toBe(rx.url);
    const member = await api("POST", `/v1/projects/${project}/tokens`, { token: owner, body: { name: "m", role: "member" } });
    const forbidden = await api("GET", `/v1/projects/${project}/notification-endpoints`, { token: member.body.token });
    expect(forbidden.status).toBe(403);
    const bad = await putEndpoint(project, owner, "x", { url: rx.url, events: ["task.exploded"] });
    expect(bad).toMatchObject({ status: 400, body: { error: { code: "invalid_request", field: "events[0]" } } });
    expect((await api("DELETE", `/v1/projects/${project}/notification-endpoints/ci`, { token: owner })).status).toBe(204);
    expect((await api("GET", `/v1/projects/${project}/notification-endpoints/ci`, { token: owner })).status).toBe(404);
  });

  it("refuses loopback unless SFP_ALLOW_LOOPBACK_ENDPOINTS is on, and private or metadata addresses always", async () => {
    const { project, owner } = await setup();
    const refused = async (url: string) => {
      const res = await putEndpoint(project, owner, "x", { url, events: ["*"] });
      expect(res.status, url).toBe(400);
      expect(res.body.error).toMatchObject({ code: "invalid_request", field: "url" });
    };
    restore = allowLoopback(false);
    for (const url of ["http://127.0.0.1:9/hook", "https://127.0.0.1/", "https://localhost/", "https://[::1]/", "https://2130706433/"]) await refused(url);
    for (const url of ["https://169.254.169.254/latest/meta-data", "http://169.254.169.254/", "https://10.0.0.8/", "https://192.168.1.1/"]) await refused(url);
    for (const url of ["https://metadata.google.internal/", "https://[fd00::1]/", "https://[::ffff:a9fe:a9fe]/", "http://example.com/", "ftp://example.com/"])
      await refused(url);
    expect((await putEndpoint(project, owner, "x", { url: "https://hooks.example.com/sfp", events: ["*"] })).status).toBe(200);
    restore();
    restore = allowLoopback(true);
    expect((await putEndpoint(project, owner, "y", { url: "http://127.0.0.1:9/hook", events: ["*"] })).status).toBe(200);
    await refused("https://169.254.169.254/latest/meta-data");
    await refused("http://169.254.169.254/");
  });
});

describe("deliveries", () => {
  it("500, 500, 200: three attempts with one webhook-id, each verified, growing gaps, across evictions", async () => {
    const { project, owner, rx } = await endpointOn(["task.*"], [500, 500]);
    const task = await cancelNewTask(project, owner);
    await vi.waitFor(async () => expect(await rx.received()).toHaveLength(1));
    const [first] = await deliveries(project, owner, "ci");
    expect(first).toMatchObject({ event: "task.canceled", taskId: task.id, status: "pending", attempts: 1, lastResponseCode: 500 });
    const gaps = [gap(first)];

    await evictDurableObject(projectActor(project));
    await retryNow(project, { id: first.id, attempts: 1 });
    expect(await rx.received()).toHaveLength(2);
    const [second] = await deliveries(project, owner, "ci");
    expect(second).toMatchObject({ id: first.id, status: "pending", attempts: 2, lastResponseCode: 500 });
    gaps.push(gap(second));

    await evictDurableObject(projectActor(project));
    await retryNow(project, { id: first.id, attempts: 2 });
    const [third] = await deliveries(project, owner, "ci");
    expect(third).toMatchObject({ id: first.id, status: "succeeded", attempts: 3, lastResponseCode: 200, nextAttemptAt: null });
    // Nothing more goes out once it succeeded.
    await retryNow(project);
    const got = await rx.received();
    expect(got.map((d) => [d.id, d.status, d.verifyError])).toEqual([
      [first.id, 500, null],
      [first.id, 500, null],
      [first.id, 200, null],
    ]);
    // ±10 % jitter around 5 s, then 5 min.
    expect(gaps[0]).toBeGreaterThanOrEqual(DELIVERY_SCHEDULE_MS[0] * 0.9);
    expect(gaps[0]).toBeLessThanOrEqual(DELIVERY_SCHEDULE_MS[0] * 1.1);
    expect(gaps[1]).toBeGreaterThanOrEqual(DELIVERY_SCHEDULE_MS[1] * 0.9);
    expect(gaps[1]).toBeGreaterThan(gaps[0]);
    const body = JSON.parse(got[0].body);
    expect(body).toMatchObject({ type: "task.canceled", data: { task: { id: task.id, project, status: "canceled", type: task.type } } });
    expect(body.data.task.url).toBe(`https://edge.test/#task=${task.id}`);
    expect(body.data.task).not.toHaveProperty("payload");
    expect(got[0].body).toBe(got[2].body);
  });

  it("never delays the transition: the answer comes while the receiver still holds the first attempt; a reset mid-send resends the same id", async () => {
    const { project, owner, rx } = await endpointOn(["task.canceled"], [], true);
    await cancelNewTask(project, owner);
    // The cancel answered (above) while the receiver holds the attempt open.
    await vi.waitFor(async () => expect(await rx.received()).toHaveLength(1));
    const [held] = await deliveries(project, owner, "ci");
    expect(held).toMatchObject({ status: "pending", attempts: 1, lastResponseCode: null });
    // The actor is reset mid-send (as a crash would): the booked attempt is retried with the same id.
    await expect(runInDurableObject(projectActor(project), (_i, state) => state.abort("reset mid-send"))).rejects.toThrow();
    await retryNow(project);
    await rx.release();
    const got = await rx.received();
    expect(got).toHaveLength(2);
    expect(new Set(got.map((d) => d.id))).toEqual(new Set([held.id]));
    const [done] = await deliveries(project, owner, "ci");
    expect(done).toMatchObject({ id: held.id, status: "succeeded", attempts: 2 });
  });

  it("410 disables the endpoint and tells the endpoints that want endpoint.disabled", async () => {
    const { project, owner, rx } = await endpointOn(["task.failed", "task.canceled"], [410]);
    const watcher = receiver();
    const w = await putEndpoint(project, owner, "ops", { url: watcher.url, events: ["endpoint.disabled"] });
    await watcher.script(w.body.secret);
    await cancelNewTask(project, owner);
    await vi.waitFor(async () => expect((await deliveries(project, owner, "ci"))[0]).toMatchObject({ status: "failed", lastResponseCode: 410 }));
    const ep = await api("GET", `/v1/projects/${project}/notification-endpoints/ci`, { token: owner });
    expect(ep.body.endpoint).toMatchObject({ enabled: false, disabledReason: expect.stringContaining("410") });
    await vi.waitFor(async () => expect(await watcher.received()).toHaveLength(1));
    const notice = JSON.parse((await watcher.received())[0].body);
    expect(notice).toMatchObject({ type: "endpoint.disabled", data: { endpoint: "ci" } });
    // Disabled: a new event makes no delivery, and redelivery is refused until re-enabled.
    await cancelNewTask(project, owner);
    expect(await deliveries(project, owner, "ci")).toHaveLength(1);
    const [d] = await deliveries(project, owner, "ci");
    const refused = await api("POST", `/v1/projects/${project}/notification-endpoints/ci/deliveries/${d.id}/redeliver`, { token: owner });
    expect(refused).toMatchObject({ status: 409, body: { error: { code: "conflict" } } });
    await putEndpoint(project, owner, "ci", { url: rx.url, events: ["task.canceled"], enabled: true });
    const again = await api("POST", `/v1/projects/${project}/notification-endpoints/ci/deliveries/${d.id}/redeliver`, { token: owner });
    expect(again).toMatchObject({ status: 202, body: { delivery: { id: d.id, status: "pending" } } });
    await vi.waitFor(async () => expect((await deliveries(project, owner, "ci"))[0]).toMatchObject({ status: "succeeded", attempts: 2 }));
    expect((await rx.received()).map((x) => x.id)).toEqual([d.id, d.id]);
  });

  it("an endpoint failing a whole schedule (8 attempts, gaps growing) is disabled with a notice", async () => {
    const { project, owner, rx } = await endpointOn(["task.canceled"], new Array(8).fill(503));
    const watcher = receiver();
    const w = await putEndpoint(project, owner, "ops", { url: watcher.url, events: ["endpoint.*"] });
    await watcher.script(w.body.secret);
    await cancelNewTask(project, owner);
    await vi.waitFor(async () => expect(await rx.received()).toHaveLength(1));
    const gaps: number[] = [];
    for (let attempts = 1; attempts < 8; attempts++) {
      const [d] = await deliveries(project, owner, "ci");
      expect(d).toMatchObject({ status: "pending", attempts, lastResponseCode: 503 });
      gaps.push(gap(d));
      await retryNow(project, { id: d.id, attempts });
    }
    for (let i = 1; i < gaps.length; i++) expect(gaps[i]).toBeGreaterThan(gaps[i - 1]);
    expect(gaps[6]).toBeGreaterThanOrEqual(DELIVERY_SCHEDULE_MS[6] * 0.9);
    const [last] = await deliveries(project, owner, "ci");
    expect(last).toMatchObject({ status: "failed", attempts: 8, nextAttemptAt: null });
    expect(new Set((await rx.received()).map((x) => x.id)).size).toBe(1);
    const ep = await api("GET", `/v1/projects/${project}/notification-endpoints/ci`, { token: owner });
    expect(ep.body.endpoint.enabled).toBe(false);
    await vi.waitFor(async () => expect(await watcher.received()).toHaveLength(1));
    expect(JSON.parse((await watcher.received())[0].body)).toMatchObject({ type: "endpoint.disabled", data: { endpoint: "ci" } });
  });

  it("after a rotation both secrets sign for 24 h: the library verifies with the old and the new", async () => {
    const { project, owner, rx, secret } = await endpointOn(["task.canceled"]);
    const rotated = await api("POST", `/v1/projects/${project}/notification-endpoints/ci/rotate-secret`, { token: owner });
    expect(rotated.status).toBe(200);
    expect(rotated.body.secret).toMatch(/^whsec_/);
    expect(rotated.body.secret).not.toBe(secret);
    expect(rotated.body.endpoint.secretRotatedAt).not.toBeNull();
    await cancelNewTask(project, owner);
    await vi.waitFor(async () => expect(await rx.received()).toHaveLength(1));
    const [d] = await rx.received();
    expect(d.signature.split(" ")).toHaveLength(2);
    const headers = { "webhook-id": d.id, "webhook-timestamp": d.timestamp, "webhook-signature": d.signature };
    for (const s of [secret, rotated.body.secret]) expect(new Webhook(s).verify(d.body, headers)).toMatchObject({ type: "task.canceled" });
    const only = (sig: string) => ({ ...headers, "webhook-signature": sig });
    expect(() => new Webhook(rotated.body.secret).verify(d.body, only(d.signature.split(" ")[1]))).toThrow();
  });
});
