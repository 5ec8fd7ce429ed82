// The wake's key derivation and nonce (issue 11, "wake HMAC"): a wake signed with the raw origin
// token is refused, a wake sent twice is refused, a wake without a nonce is refused cleanly, and a
// genuine one is accepted, both by the check alone and through the manager's HTTP server.
import { createHmac, randomBytes } from "node:crypto";
import type { Server } from "node:http";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { WAKE_KEY_LABEL, WAKE_NONCE_HEADER, WAKE_PATH, WAKE_SIGNATURE_HEADER, WAKE_TIMESTAMP_HEADER } from "../../protocol/runner.ts";
import { createLogger } from "./log.ts";
import { Metrics } from "./metrics.ts";
import { createManagerServer, listen } from "./server.ts";
import { WakeCheck, type WakeHeaders } from "./wake-check.ts";

const TOKEN = "origin-token-for-wake-tests-0123456789";
const BODY = JSON.stringify({ project: "prj_x", pool: "default", queued: 3 });

/** The documented format, written out here rather than taken from the code under test. */
function sign(body: string, opts: { key?: Buffer | string; timestamp?: number; nonce?: string } = {}): Required<WakeHeaders> {
  const timestamp = String(opts.timestamp ?? Math.floor(Date.now() / 1000));
  const nonce = opts.nonce ?? randomBytes(16).toString("hex");
  const key = opts.key ?? createHmac("sha256", TOKEN).update(WAKE_KEY_LABEL).digest();
  return { timestamp, nonce, signature: createHmac("sha256", key).update(`${timestamp}.${nonce}.${body}`).digest("hex") };
}

describe("WakeCheck", () => {
  it("accepts a wake signed with the key derived from the origin token", () => {
    expect(new WakeCheck(TOKEN).check(sign(BODY), Buffer.from(BODY), Date.now())).toBeUndefined();
  });

  it("refuses a wake signed with the raw origin token, the value that travels in the request", () => {
    const refused = new WakeCheck(TOKEN).check(sign(BODY, { key: TOKEN }), Buffer.from(BODY), Date.now());
    expect(refused).toMatchObject({ status: 401, code: "bad_signature" });
  });

  it("refuses the same wake a second time, and a second wake reusing its nonce", () => {
    const check = new WakeCheck(TOKEN);
    const wake = sign(BODY);
    expect(check.check(wake, Buffer.from(BODY), Date.now())).toBeUndefined();
    expect(check.check(wake, Buffer.from(BODY), Date.now())).toMatchObject({ status: 401, code: "bad_signature", message: expect.stringContaining("replay") });
    const other = JSON.stringify({ project: "prj_x", pool: "default", queued: 4 });
    const sameNonce = sign(other, { nonce: wake.nonce });
    expect(check.check(sameNonce, Buffer.from(other), Date.now())).toMatchObject({ code: "bad_signature" });
    expect(check.check(sign(BODY), Buffer.from(BODY), Date.now())).toBeUndefined();
  });

  it("refuses a wake without a nonce, or the old format signed over timestamp and body only", () => {
    const check = new WakeCheck(TOKEN);
    const { timestamp, signature } = sign(BODY);
    expect(check.check({ timestamp, signature }, Buffer.from(BODY), Date.now())).toMatchObject({
      status: 401,
      code: "bad_signature",
      message: expect.stringContaining(WAKE_NONCE_HEADER),
    });
    const old = { timestamp, nonce: "0123456789abcdef0123456789abcdef", signature: createHmac("sha256", TOKEN).update(`${timestamp}.${BODY}`).digest("hex") };
    expect(check.check(old, Buffer.from(BODY), Date.now())).toMatchObject({ code: "bad_signature" });
    expect(check.check(sign(BODY, { nonce: "short" }), Buffer.from(BODY), Date.now())).toMatchObject({ code: "bad_signature" });
  });

  it("forgets a nonce once its timestamp could no longer pass, and refuses that wake as stale", () => {
    const check = new WakeCheck(TOKEN);
    const now = Date.now();
    const wake = sign(BODY, { timestamp: Math.floor(now / 1000) });
    expect(check.check(wake, Buffer.from(BODY), now)).toBeUndefined();
    expect(check.check(wake, Buffer.from(BODY), now + 299_000)).toMatchObject({ code: "bad_signature" });
    expect(check.check(wake, Buffer.from(BODY), now + 302_000)).toMatchObject({ code: "stale_timestamp" });
  });

  it("refuses with 429 rather than forget a live nonce when it remembers as many as it may", () => {
    const check = new WakeCheck(TOKEN, 2);
    const now = Date.now();
    expect(check.check(sign(BODY), Buffer.from(BODY), now)).toBeUndefined();
    expect(check.check(sign(BODY), Buffer.from(BODY), now)).toBeUndefined();
    expect(check.check(sign(BODY), Buffer.from(BODY), now)).toMatchObject({ status: 429, code: "rate_limited" });
    // Once the first two could no longer pass, there is room again.
    const later = now + 302_000;
    expect(check.check(sign(BODY, { timestamp: Math.floor(later / 1000) }), Buffer.from(BODY), later)).toBeUndefined();
  });
});

describe("POST /v1/wake with a derived key and a nonce", () => {
  let server: Server;
  let base: string;
  let wakes = 0;

  beforeEach(async () => {
    wakes = 0;
    const agent = {
      state: "idle",
      activeTasks: [],
      freeSlots: () => 1,
      wake: () => {
        wakes++;
        return true;
      },
    };
    server = createManagerServer({ agent, metrics: new Metrics(), log: createLogger({ write: () => {} }), originToken: TOKEN, version: "test", slots: 1 });
    base = `http://127.0.0.1:${(await listen(server, "127.0.0.1", 0)).port}`;
  });

  afterEach(async () => {
    server.closeAllConnections();
    await new Promise((r) => server.close(r));
  });

  function post(headers: Partial<WakeHeaders>): Promise<Response> {
    const h: Record<string, string> = { "content-type": "application/json" };
    if (headers.timestamp) h[WAKE_TIMESTAMP_HEADER] = headers.timestamp;
    if (headers.nonce) h[WAKE_NONCE_HEADER] = headers.nonce;
    if (headers.signature) h[WAKE_SIGNATURE_HEADER] = headers.signature;
    return fetch(base + WAKE_PATH, { method: "POST", headers: h, body: BODY });
  }

  it("accepts a good wake once and refuses its replay with 401 in the contract's error shape", async () => {
    const wake = sign(BODY);
    const first = await post(wake);
    expect(first.status).toBe(202);
    const replay = await post(wake);
    expect(replay.status).toBe(401);
    expect(await replay.json()).toEqual({
      error: { code: "bad_signature", message: expect.stringContaining("replay"), requestId: expect.stringMatching(/^req_/) },
    });
    expect(wakes).toBe(1);
  });

  it("refuses a wake signed with the raw origin token, and one without the nonce header", async () => {
    const raw = await post(sign(BODY, { key: TOKEN }));
    expect(raw.status).toBe(401);
    expect(((await raw.json()) as { error: { code: string } }).error.code).toBe("bad_signature");
    const { timestamp, signature } = sign(BODY);
    const bare = await post({ timestamp, signature });
    expect(bare.status).toBe(401);
    expect(await bare.json()).toEqual({ error: { code: "bad_signature", message: expect.stringContaining(WAKE_NONCE_HEADER), requestId: expect.any(String) } });
    expect(wakes).toBe(0);
  });
});
