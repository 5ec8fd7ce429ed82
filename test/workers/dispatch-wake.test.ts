// The wake a dispatcher sends (actors/wake.ts): signed with a key derived from ORIGIN_TOKEN, never
// with the token itself, and a fresh nonce in every wake (issue 11, "wake HMAC").
import { env } from "cloudflare:test";
import { afterEach, describe, expect, it, vi } from "vitest";
import { WAKE_KEY_LABEL, WAKE_NONCE_HEADER, WAKE_SIGNATURE_HEADER, WAKE_TIMESTAMP_HEADER } from "../../protocol/index.ts";
import { createTask, setup } from "./helpers.ts";

async function hmacHex(key: BufferSource, text: string): Promise<string> {
  const imported = await crypto.subtle.importKey("raw", key, { name: "HMAC", hash: "SHA-256" }, false, ["sign"]);
  const mac = new Uint8Array(await crypto.subtle.sign("HMAC", imported, new TextEncoder().encode(text)));
  return [...mac].map((b) => b.toString(16).padStart(2, "0")).join("");
}

const fromHex = (hex: string) => Uint8Array.from(hex.match(/../g) ?? [], (b) => Number.parseInt(b, 16));

describe("the dispatcher's wake", () => {
  const original = env.POOL_ORIGINS;
  afterEach(() => {
    env.POOL_ORIGINS = original;
    vi.restoreAllMocks();
  });

  it("signs with HMAC(ORIGIN_TOKEN, 'sfp-wake-v1') over timestamp, nonce and body, with a fresh nonce per wake", async () => {
    const spy = vi.spyOn(globalThis, "fetch").mockImplementation(async () => new Response(null, { status: 202 }));
    env.POOL_ORIGINS = JSON.stringify({ "*": "https://origin.test" });
    // Two pools: two dispatchers, each waking once. Dispatchers of other files' projects share the
    // runtime (and this origin while it is set), so only this project's wakes count.
    const { project, owner } = await setup();
    const wakes = () =>
      spy.mock.calls.filter(([url, init]) => String(url).startsWith("https://origin.test/") && JSON.parse(String(init?.body)).project === project);
    await createTask(project, owner, { type: "query" });
    await createTask(project, owner, { type: "query", pool: "second" });
    await vi.waitFor(() => expect(wakes()).toHaveLength(2));
    const token = new TextEncoder().encode(env.ORIGIN_TOKEN);
    const key = fromHex(await hmacHex(token, WAKE_KEY_LABEL));
    const nonces = new Set<string>();
    for (const [, init] of wakes()) {
      const headers = new Headers(init?.headers);
      const body = String(init?.body);
      const timestamp = headers.get(WAKE_TIMESTAMP_HEADER) ?? "";
      const nonce = headers.get(WAKE_NONCE_HEADER) ?? "";
      expect(nonce).toMatch(/^[0-9a-f]{32}$/);
      nonces.add(nonce);
      const signature = headers.get(WAKE_SIGNATURE_HEADER);
      expect(signature).toBe(await hmacHex(key, `${timestamp}.${nonce}.${body}`));
      expect(signature).not.toBe(await hmacHex(token, `${timestamp}.${nonce}.${body}`));
      expect(signature).not.toBe(await hmacHex(token, `${timestamp}.${body}`));
    }
    expect(nonces.size).toBe(2);
  });
});
