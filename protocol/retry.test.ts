// The Node clients' retry vocabulary: what is retried (by the contract's code), how long each wait
// is, and the one abort behaviour of sleep.
import { createServer } from "node:http";
import type { AddressInfo } from "node:net";
import { describe, expect, it } from "vitest";
import { EdgeClient, EdgeError } from "./client.ts";
import { codeForStatus } from "./errors.ts";
import { backoffMs, constant, exponential, isRetryable, ONCE, retryDelayMs, sleep, withRetry } from "./retry.ts";

const edgeError = (status: number, code: ConstructorParameters<typeof EdgeError>[1], retryAfter?: number) =>
  new EdgeError(status, code, "x", undefined, retryAfter);

describe("isRetryable", () => {
  it("retries the codes a later identical request may pass, and nothing else", () => {
    for (const code of ["network", "rate_limited", "internal", "unavailable"] as const) expect(isRetryable(edgeError(500, code))).toBe(true);
    for (const code of ["stale_lease", "gone", "too_large", "invalid_request", "unauthenticated", "forbidden", "conflict", "assignment_expired"] as const) {
      expect(isRetryable(edgeError(400, code))).toBe(false);
    }
    expect(isRetryable(new Error("boom"))).toBe(false);
  });

  it("decides on the code, not the status", () => {
    // A 503 whose body says stale_lease is not retried; a 400-range status that says unavailable is.
    expect(isRetryable(edgeError(503, "stale_lease"))).toBe(false);
    expect(isRetryable(edgeError(409, "unavailable"))).toBe(true);
  });
});

describe("backoff", () => {
  it("grows by the multiplier from initialMs, is capped at maxMs, and spreads ±jitter", () => {
    const b = exponential(100, 1_000);
    expect([1, 2, 3, 4, 5, 6].map((n) => backoffMs(b, n, () => 0.5))).toEqual([100, 200, 400, 800, 1_000, 1_000]);
    expect(backoffMs(b, 1, () => 0)).toBe(80);
    expect(backoffMs(b, 1, () => 1)).toBe(120);
    expect(backoffMs(constant(250), 7, () => 0.5)).toBe(250);
  });

  it("waits at least as long as the edge's Retry-After", () => {
    const policy = { attempts: 3, backoff: exponential(10, 10) };
    expect(retryDelayMs(policy, 1, edgeError(429, "rate_limited", 2))).toBe(2_000);
    expect(retryDelayMs(policy, 1, edgeError(503, "unavailable"))).toBeLessThanOrEqual(12);
  });
});

describe("sleep", () => {
  it("answers true after the whole wait", async () => {
    expect(await sleep(5)).toBe(true);
  });

  it("answers false, without throwing, when the signal cuts it short or was aborted already", async () => {
    const ac = new AbortController();
    const started = Date.now();
    const slept = sleep(60_000, ac.signal);
    ac.abort(new Error("stop"));
    expect(await slept).toBe(false);
    expect(Date.now() - started).toBeLessThan(30_000);
    expect(await sleep(60_000, AbortSignal.abort())).toBe(false);
  });
});

describe("withRetry", () => {
  const quick = { attempts: 4, backoff: constant(1) };

  it("retries a retryable failure until it succeeds", async () => {
    let calls = 0;
    const out = await withRetry(quick, async () => {
      calls++;
      if (calls < 3) throw edgeError(503, "unavailable");
      return "ok";
    });
    expect(out).toBe("ok");
    expect(calls).toBe(3);
  });

  it("gives up after the policy's attempts, and at once on a code not worth retrying", async () => {
    let calls = 0;
    await expect(
      withRetry(quick, async () => {
        calls++;
        throw edgeError(0, "network");
      }),
    ).rejects.toMatchObject({ code: "network" });
    expect(calls).toBe(4);
    calls = 0;
    await expect(
      withRetry(quick, async () => {
        calls++;
        throw edgeError(409, "stale_lease");
      }),
    ).rejects.toMatchObject({ code: "stale_lease" });
    expect(calls).toBe(1);
    calls = 0;
    await expect(
      withRetry(ONCE, async () => {
        calls++;
        throw edgeError(503, "unavailable");
      }),
    ).rejects.toMatchObject({ code: "unavailable" });
    expect(calls).toBe(1);
  });

  it("starts no attempt past the deadline, and stops when the signal aborts", async () => {
    let calls = 0;
    const fail = async () => {
      calls++;
      throw edgeError(503, "unavailable");
    };
    await expect(withRetry({ attempts: 10, backoff: constant(50) }, fail, { deadline: () => Date.now() + 10 })).rejects.toMatchObject({ code: "unavailable" });
    expect(calls).toBe(1);
    calls = 0;
    const ac = new AbortController();
    const run = withRetry({ attempts: 10, backoff: constant(60_000) }, fail, { signal: ac.signal });
    ac.abort();
    await expect(run).rejects.toMatchObject({ code: "unavailable" });
    expect(calls).toBe(1);
  });
});

describe("EdgeClient's error codes", () => {
  const pages = [
    { status: 413, type: "text/html", body: "<html>too big</html>" },
    { status: 502, type: "text/html", body: "<html>bad gateway</html>" },
    { status: 404, type: "text/plain", body: "" },
    { status: 429, type: "text/html", body: "slow down", retryAfter: "3" },
    { status: 409, type: "application/json", body: JSON.stringify({ error: { code: "stale_lease", message: "old epoch", requestId: "req_1" } }) },
    { status: 409, type: "application/json", body: JSON.stringify({ error: { code: "a_future_code", message: "new" } }) },
  ];

  it("keeps the contract's code, and gives any other answer (a proxy's page) the code its status stands for", async () => {
    const server = createServer((req, res) => {
      const page = pages[Number(req.url?.slice(1))];
      res.writeHead(page.status, { "content-type": page.type, ...(page.retryAfter ? { "retry-after": page.retryAfter } : {}) });
      res.end(page.body);
    });
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
    try {
      const client = new EdgeClient(`http://127.0.0.1:${(server.address() as AddressInfo).port}`);
      const seen: unknown[] = [];
      for (let i = 0; i < pages.length; i++) {
        const err = await client.request("GET", `/${i}`).catch((e: unknown) => e);
        expect(err).toBeInstanceOf(EdgeError);
        if (err instanceof EdgeError) seen.push([err.status, err.code, err.retryAfter, err.requestId]);
      }
      expect(seen).toEqual([
        [413, "too_large", undefined, undefined],
        [502, "unavailable", undefined, undefined],
        [404, "not_found", undefined, undefined],
        [429, "rate_limited", 3, undefined],
        [409, "stale_lease", undefined, "req_1"],
        [409, "conflict", undefined, undefined],
      ]);
      // A proxy's 502 is worth another try; its 413 is not.
      expect(isRetryable(await client.request("GET", "/1").catch((e: unknown) => e))).toBe(true);
      expect(isRetryable(await client.request("GET", "/0").catch((e: unknown) => e))).toBe(false);
    } finally {
      server.close();
    }
  });

  it("maps statuses outside the table to invalid_request (4xx) or internal", () => {
    expect(codeForStatus(418)).toBe("invalid_request");
    expect(codeForStatus(599)).toBe("internal");
  });
});
