import { describe, expect, it } from "vitest";
import { api, setup } from "./helpers.ts";

/** API_LIMIT per token and 10 s window in the workers project (vitest.config.ts; 1,000 deployed). */
const API_LIMIT = 100;

/** Sends `size` requests at once, batch after batch, until one answers 429 or `max` have gone. */
async function untilLimited(send: () => Promise<{ status: number }>, size: number, max: number): Promise<number[]> {
  const statuses: number[] = [];
  while (statuses.length < max && !statuses.includes(429)) {
    const batch = await Promise.all(Array.from({ length: size }, send));
    statuses.push(...batch.map((r) => r.status));
  }
  return statuses;
}

describe("rate limits", () => {
  it("answers 429 with Retry-After to a client address that keeps failing authentication", async () => {
    const headers = { "cf-connecting-ip": "203.0.113.7" };
    const guess = () => api("GET", "/v1/projects/prj_x/tasks", { token: "sfp_guess.guess", headers });
    // Concurrent batches fill one fixed 10 s window quickly; should one roll over mid-run, the next fills too.
    const statuses = await untilLimited(guess, 25, 1_000);
    expect(statuses).toContain(429);
    expect(statuses.every((s) => s === 401 || s === 429)).toBe(true);
    // The address had its 100 failures per window before the first refusal.
    expect(statuses.filter((s) => s === 401).length).toBeGreaterThanOrEqual(100);
    const res = await guess();
    expect(res.status).toBe(429);
    expect(Number(res.headers.get("retry-after"))).toBeGreaterThan(0);
    expect(res.body.error).toEqual({ code: "rate_limited", message: expect.any(String), requestId: expect.any(String) });
  }, 60_000);

  it("limits per token, not per address: another token from the same address goes through", async () => {
    const { project, owner } = await setup();
    const second = await api("POST", `/v1/projects/${project}/tokens`, { token: owner, body: { name: "b", role: "viewer" } });
    const headers = { "cf-connecting-ip": "198.51.100.9" };
    const read = (token: string) => api("GET", `/v1/projects/${project}/orgs`, { token, headers });
    // Every authenticated request counts, whatever it asks for: a path with no route is the cheapest
    // (no actor behind it), so a busy machine still fills one 10 s window.
    const probe = () => api("GET", "/v1/rate-limit-probe", { token: owner, headers });
    const statuses = await untilLimited(probe, 50, 10 * API_LIMIT);
    expect(statuses).toContain(429);
    expect(statuses.every((s) => s === 404 || s === 429)).toBe(true);
    // setup() spent two of the owner token's requests in this window (org, token): at least the rest
    // of a window's limit went through before the refusals.
    expect(statuses.filter((s) => s === 404).length).toBeGreaterThanOrEqual(API_LIMIT - 2);
    // …and no more than the limit allows (twice over, should a window have rolled over mid-run).
    expect(statuses.filter((s) => s === 404).length).toBeLessThanOrEqual(2 * API_LIMIT);
    // Right after the refusal, from the same address: the owner token is still refused, the other is not.
    const [owners, others] = await Promise.all([read(owner), read(second.body.token)]);
    expect(others.status).toBe(200);
    if (owners.status === 429) expect(owners.body.error.code).toBe("rate_limited");
  }, 60_000);
});
