// Hostile input never makes the edge fail: seeded random bodies and headers (random bytes, invalid
// UTF-8, huge headers, deeply nested JSON, near-miss XML) sent to every kind of source, half of
// them correctly signed so that the parsers behind the signature check get fuzzed too. The only
// claim is "no 5xx": each answer must be one of the contract's 2xx/4xx answers.
import { SELF } from "cloudflare:test";
import { describe, expect, it } from "vitest";
import { BASE, setup } from "./helpers.ts";
import { GITHUB_SECRET, GITLAB_SECRET, githubSignature, nowSeconds, ORG_ID, putSource, STANDARD_SECRET, standardSignature } from "./webhooks-helpers.ts";
import sfOne from "../fixtures/webhooks/salesforce-one-notification.xml?raw";

/** mulberry32: small, fast, and the same sequence for the same seed on every run. */
function prng(seed: number) {
  let a = seed >>> 0;
  const next = () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
  const int = (n: number) => Math.floor(next() * n);
  const pick = <T>(xs: readonly T[]): T => xs[int(xs.length)];
  return { next, int, pick };
}
type Rng = ReturnType<typeof prng>;

const encoder = new TextEncoder();

function randomBytes(r: Rng, n: number): Uint8Array {
  const out = new Uint8Array(n);
  for (let i = 0; i < n; i++) out[i] = r.int(256);
  return out;
}

/** Header-safe text (visible ASCII: workers encode anything else as UTF-8 with a warning) of length n. */
function headerText(r: Rng, n: number): string {
  let s = "";
  for (let i = 0; i < n; i++) s += String.fromCharCode(0x21 + r.int(94));
  return s;
}

function deepJson(r: Rng): string {
  const depth = r.pick([100, 1000, 50_000, 200_000]);
  const open = r.pick(['{"a":', "[", '{"pull_request":']);
  const close = open === "[" ? "]" : "}";
  return `{"action":"opened","deep":${open.repeat(depth)}1${close.repeat(depth)}}`;
}

function mutate(r: Rng, text: string): Uint8Array {
  const bytes = encoder.encode(text);
  const out = new Uint8Array(bytes);
  for (let i = 0; i < 1 + r.int(8); i++) out[r.int(out.length)] = r.int(256);
  return r.next() < 0.3 ? out.subarray(0, r.int(out.length)) : out;
}

function body(r: Rng): Uint8Array {
  switch (r.int(8)) {
    case 0:
      return randomBytes(r, r.int(4096));
    case 1:
      return new Uint8Array([0x7b, 0x22, 0x61, 0x22, 0x3a, 0x22, 0xc3, 0x28, 0xed, 0xa0, 0x80, 0xff, 0x22, 0x7d]); // invalid UTF-8 inside JSON
    case 2:
      return encoder.encode(deepJson(r));
    case 3:
      return encoder.encode(
        JSON.stringify({
          action: headerText(r, r.int(300)),
          object_kind: headerText(r, r.int(50)),
          type: r.pick(["x", "", 5, null, [], {}]),
          __proto__: { polluted: true },
          ref: "refs/heads/main",
        }),
      );
    case 4:
      return mutate(r, sfOne);
    case 5:
      return encoder.encode(r.pick(["", "null", "[]", "1", '"s"', "{", "{}", '{"type":"pipeline.succeeded"}', "<a/>", "<!DOCTYPE x><x/>"]));
    case 6:
      return encoder.encode(`{"copy":${"[".repeat(3000)}${"]".repeat(3000)},"big":"${"x".repeat(r.int(300_000))}"}`);
    default:
      return mutate(r, JSON.stringify({ action: "opened", ref: "refs/heads/main", pull_request: { base: { ref: "main" } }, type: "pipeline.succeeded" }));
  }
}

// Rules that follow the delivery into its depths: a dot path `if`, whole-value and embedded templates.
const RULE = {
  on: "*",
  if: { "pull_request.base.ref": "*" },
  task: { type: "deploy", org: "demo", payload: { zipUrl: "https://x/{{ref}}.zip", copy: "{{copy}}", deep: "{{deep}}", big: "{{big}}" } },
};
const OPEN_RULE = { on: "*", task: { type: "deploy", org: "demo", payload: { copy: "{{copy}}", deep: "{{deep.a.a.a}}", whole: "{{deep}}" } } };

describe("fuzzed deliveries", () => {
  it("never get a 5xx, whatever the bytes and headers (400 seeded cases over all four kinds)", async () => {
    const { project, owner } = await setup();
    const sources = {
      github: await putSource(project, owner, "gh", { kind: "github", secret: GITHUB_SECRET, rules: [RULE, OPEN_RULE] }),
      gitlab: await putSource(project, owner, "gl", { kind: "gitlab", secret: GITLAB_SECRET, rules: [RULE, OPEN_RULE] }),
      standard: await putSource(project, owner, "std", { kind: "standard", secret: STANDARD_SECRET, rules: [RULE, OPEN_RULE] }),
      salesforce: await putSource(project, owner, "sf", {
        kind: "salesforce",
        orgId: ORG_ID,
        rules: [{ on: "*", task: { type: "org-check", org: "demo", payload: { id: "{{sObject.Id}}", all: "{{sObject}}" } } }],
      }),
    };
    const r = prng(0x5f9e3);
    // Every case is made first (the seeded generator decides them all, in order), then sent in
    // concurrent batches: 400 deliveries, some of 300 KB, one after another outlast a loaded machine.
    const cases: Array<{ i: number; kind: keyof typeof sources; signed: boolean; bytes: Uint8Array; headers: Record<string, string> }> = [];
    for (let i = 0; i < 400; i++) {
      const kind = r.pick(["github", "gitlab", "standard", "salesforce"] as const);
      const bytes = body(r);
      const signed = r.next() < 0.5;
      const id = r.next() < 0.9 ? `d-${i}-${r.int(1e9)}` : headerText(r, r.int(400));
      const headers: Record<string, string> = {
        "cf-connecting-ip": `198.51.${i >> 8}.${i & 255}`,
        // Mostly the kind's own media type, so that most cases get past the 415 to the checks behind it.
        "content-type":
          r.next() < 0.8
            ? kind === "salesforce"
              ? "text/xml; charset=utf-8"
              : "application/json"
            : r.pick(["application/json", "text/xml", "application/x-www-form-urlencoded", "application/json; charset=utf-8", headerText(r, 20)]),
      };
      if (kind === "github") {
        headers["x-github-event"] = r.next() < 0.8 ? r.pick(["push", "pull_request", "ping"]) : headerText(r, r.int(500));
        headers["x-github-delivery"] = id;
        headers["x-hub-signature-256"] = signed ? await githubSignature(bytes) : r.pick([`sha256=${headerText(r, 64)}`, headerText(r, r.int(200)), "sha256="]);
      } else if (kind === "gitlab") {
        headers["x-gitlab-event"] = r.next() < 0.8 ? "Push Hook" : headerText(r, r.int(500));
        headers["x-gitlab-event-uuid"] = id;
        headers["x-gitlab-token"] = signed ? GITLAB_SECRET : headerText(r, r.int(100));
      } else if (kind === "standard") {
        const ts = r.next() < 0.8 ? nowSeconds() : r.pick(["-1", "9999999999999", headerText(r, 12), "1e9"]);
        headers["webhook-id"] = id;
        headers["webhook-timestamp"] = ts;
        headers["webhook-signature"] = signed
          ? await standardSignature(id, ts, new TextDecoder().decode(bytes)).then((s) => (r.next() < 0.5 ? s : `${s} v1,${headerText(r, 44)}`))
          : `v1,${headerText(r, r.int(100))}`;
      }
      if (r.next() < 0.1) headers[`x-huge-${i}`] = headerText(r, 16 * 1024 + r.int(16 * 1024));
      cases.push({ i, kind, signed, bytes, headers });
    }
    const failures: string[] = [];
    const statuses = new Map<number, number>();
    const send = async ({ i, kind, signed, bytes, headers }: (typeof cases)[number]) => {
      let res: Response;
      try {
        res = await SELF.fetch(`${BASE}/v1/hooks/${sources[kind].id}`, { method: "POST", body: bytes, headers });
      } catch (err) {
        failures.push(`case ${i} (${kind}): fetch threw ${String(err)}`);
        return;
      }
      const text = await res.text();
      statuses.set(res.status, (statuses.get(res.status) ?? 0) + 1);
      if (res.status >= 500) failures.push(`case ${i} (${kind}, signed=${signed}): ${res.status} ${text.slice(0, 300)}`);
    };
    for (let at = 0; at < cases.length; at += 8) await Promise.all(cases.slice(at, at + 8).map(send));
    expect(failures).toEqual([]);
    // The cases reached past the signature checks, not only the 401 path.
    expect([...statuses.keys()].some((s) => s === 200 || s === 202)).toBe(true);
    expect(statuses.get(400) ?? 0).toBeGreaterThan(0);
  }, 180_000);
});
