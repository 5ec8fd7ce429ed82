import { createExecutionContext, env } from "cloudflare:test";
import { describe, expect, it } from "vitest";
import { sourceRef } from "../../common/source-ids.ts";
import { app } from "../../edge/app.ts";
import { setup } from "./helpers.ts";
import { GITHUB_SECRET, githubSignature, putSource } from "./webhooks-helpers.ts";

/** A rate-limit binding that records what it was charged with and always allows. */
function recordingLimit() {
  const keys: string[] = [];
  const limit = async ({ key }: { key: string }) => {
    keys.push(key);
    return { success: true };
  };
  return { keys, binding: { limit } };
}

const RULES = [{ on: "push", task: { type: "run-tests", org: "demo", payload: { testLevel: "RunLocalTests" } } }];

async function post(sourceId: string, body: string, headers: Record<string, string>, limits: { webhook: RateLimit; unauth: RateLimit }) {
  const patched = { ...env, WEBHOOK_LIMIT: limits.webhook, UNAUTH_LIMIT: limits.unauth };
  const request = new Request(`https://edge.test/v1/hooks/${sourceId}`, {
    method: "POST",
    body,
    headers: { "content-type": "application/json", "cf-connecting-ip": "198.51.100.7", ...headers },
  });
  return app.fetch(request, patched, createExecutionContext());
}

describe("a flood of unsigned deliveries to a known hook URL", () => {
  it("is charged to the senders' addresses, never to the source's limit, so GitHub's genuine deliveries still pass", async () => {
    const { project, owner } = await setup("flood");
    const source = await putSource(project, owner, "gh", { kind: "github", secret: GITHUB_SECRET, rules: RULES });
    const webhook = recordingLimit();
    const unauth = recordingLimit();
    const limits = { webhook: webhook.binding as unknown as RateLimit, unauth: unauth.binding as unknown as RateLimit };
    const body = JSON.stringify({ ref: "refs/heads/main", after: "a".repeat(40) });

    const forged = await post(
      source.id,
      body,
      { "x-github-event": "push", "x-github-delivery": "forged-1", "x-hub-signature-256": `sha256=${"0".repeat(64)}` },
      limits,
    );
    expect(forged.status).toBe(401);
    const unsigned = await post(source.id, body, { "x-github-event": "push", "x-github-delivery": "forged-2" }, limits);
    expect(unsigned.status).toBe(401);
    const wrongType = await post(source.id, body, { "content-type": "text/plain" }, limits);
    expect(wrongType.status).toBe(415);
    expect(webhook.keys).toEqual([]);
    expect(unauth.keys).toEqual(["198.51.100.7", "198.51.100.7", "198.51.100.7"]);

    const genuine = await post(
      source.id,
      body,
      { "x-github-event": "push", "x-github-delivery": "genuine-1", "x-hub-signature-256": await githubSignature(body) },
      limits,
    );
    expect(genuine.status).toBe(202);
    expect(webhook.keys).toEqual([sourceRef(source.id)]);
    expect(unauth.keys).toHaveLength(3);
  });

  it("still answers a genuine delivery over the source's limit 429 with Retry-After", async () => {
    const { project, owner } = await setup("flood-limit");
    const source = await putSource(project, owner, "gh", { kind: "github", secret: GITHUB_SECRET, rules: RULES });
    const refusing = { limit: async () => ({ success: false }) } as unknown as RateLimit;
    const body = JSON.stringify({ ref: "refs/heads/main" });
    const res = await post(
      source.id,
      body,
      { "x-github-event": "push", "x-github-delivery": "genuine-2", "x-hub-signature-256": await githubSignature(body) },
      { webhook: refusing, unauth: recordingLimit().binding as unknown as RateLimit },
    );
    expect(res.status).toBe(429);
    expect(res.headers.get("retry-after")).toBe("10");
  });
});
