import { describe, expect, it } from "vitest";
import { api, setup } from "./helpers.ts";

describe("rate limits", () => {
  it("answers 429 with Retry-After to a client address that keeps failing authentication", async () => {
    const headers = { "cf-connecting-ip": "203.0.113.7" };
    const statuses: number[] = [];
    // Fixed 10 s windows: should one roll over mid-loop, the next one fills too.
    while (statuses.length < 250 && statuses.at(-1) !== 429) {
      statuses.push((await api("GET", "/v1/projects/prj_x/tasks", { token: "sfp_guess.guess", headers })).status);
    }
    expect(statuses.at(-1)).toBe(429);
    expect(statuses.length).toBeGreaterThan(100);
    expect(statuses.slice(0, -1).every((s) => s === 401)).toBe(true);
    const res = await api("GET", "/v1/projects/prj_x/tasks", { token: "sfp_guess.guess", headers });
    expect(res.status).toBe(429);
    expect(Number(res.headers.get("retry-after"))).toBeGreaterThan(0);
    expect(res.body.error.code).toBe("rate_limited");
  });

  it("limits per token, not per address: another token from the same address goes through", async () => {
    const { project, owner } = await setup();
    const second = await api("POST", `/v1/projects/${project}/tokens`, { token: owner, body: { name: "b", role: "viewer" } });
    const headers = { "cf-connecting-ip": "198.51.100.9" };
    let limited = 0;
    // The limiter counts in fixed 10 s windows; should one roll over mid-loop, the next one fills too.
    for (let i = 0; i < 2100 && !limited; i++) {
      const res = await api("GET", `/v1/projects/${project}/orgs`, { token: owner, headers });
      if (res.status === 429) limited = i + 1;
    }
    // setup() spent two of the owner token's 1,000 requests per 10 s (org, token): at least the
    // rest of a window's 1,000 went through before the first 429.
    expect(limited).toBeGreaterThanOrEqual(999);
    const other = await api("GET", `/v1/projects/${project}/orgs`, { token: second.body.token, headers });
    expect(other.status).toBe(200);
  });
});
