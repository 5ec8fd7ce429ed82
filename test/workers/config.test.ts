import { createExecutionContext, env, SELF } from "cloudflare:test";
import { describe, expect, it } from "vitest";
import { app } from "../../edge/app.ts";

// The app with the test bindings, minus or with a changed secret: a deployment as an operator
// might leave it.
async function call(path: string, patch: Record<string, string | undefined>, init: RequestInit = {}): Promise<Response> {
  const broken = { ...env, ...patch };
  return app.fetch(new Request(`https://edge.test${path}`, init), broken, createExecutionContext());
}

describe("a deployment missing a Worker secret", () => {
  it("answers /healthz 503 misconfigured, naming TOKEN_SIGNING_KEY, instead of 200", async () => {
    const res = await call("/healthz", { TOKEN_SIGNING_KEY: undefined });
    expect(res.status).toBe(503);
    const body = (await res.json()) as { error: { code: string; message: string; requestId: string } };
    expect(body.error.code).toBe("misconfigured");
    expect(body.error.message).toContain("TOKEN_SIGNING_KEY is not set");
    expect(body.error.requestId).not.toBe("");
  });

  it("answers project creation 503 misconfigured in the contract's shape, not a 500 with a crypto error", async () => {
    const res = await call(
      "/v1/projects",
      { TOKEN_SIGNING_KEY: "" },
      { method: "POST", headers: { authorization: `Bearer ${env.ADMIN_TOKEN}`, "content-type": "application/json" }, body: '{"name":"x"}' },
    );
    expect(res.status).toBe(503);
    const body = (await res.json()) as { error: { code: string; message: string } };
    expect(body.error.code).toBe("misconfigured");
    expect(body.error.message).not.toMatch(/HMAC|DataError/);
  });

  it("refuses a signing key too short to be a key, and an unset ADMIN_TOKEN, naming each", async () => {
    const res = await call("/v1/hooks/whs_anything", { TOKEN_SIGNING_KEY: "short", ADMIN_TOKEN: undefined }, { method: "POST", body: "{}" });
    expect(res.status).toBe(503);
    const { error } = (await res.json()) as { error: { message: string } };
    expect(error.message).toContain("TOKEN_SIGNING_KEY is shorter than 16 characters");
    expect(error.message).toContain("ADMIN_TOKEN is not set");
  });

  it("answers /healthz 200 when every secret is set (the test deployment)", async () => {
    const res = await SELF.fetch("https://edge.test/healthz");
    expect(res.status).toBe(200);
    expect(await res.json()).toMatchObject({ ok: true });
  });
});
