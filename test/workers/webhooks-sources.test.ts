// The owner API for webhook sources, and what every delivery meets before its signature is checked:
// unknown sources, size and media-type limits, and the rate limits.
import { SELF } from "cloudflare:test";
import { describe, expect, it } from "vitest";
import { api, BASE, newProject, newToken, setup } from "./helpers.ts";
import { deliver, GITHUB_SECRET, githubSignature, listTasks, putSource, STANDARD_SECRET } from "./webhooks-helpers.ts";
import push from "../fixtures/webhooks/github-push.json?raw";

const MIB = 1024 * 1024;
const RULE = { on: "push", task: { type: "run-tests", org: "demo", payload: { testLevel: "RunLocalTests" } } };

async function githubHeaders(body: string | Uint8Array, delivery: string, secret = GITHUB_SECRET) {
  return {
    "content-type": "application/json",
    "x-github-event": "push",
    "x-github-delivery": delivery,
    "x-hub-signature-256": await githubSignature(body, secret),
  };
}

describe("webhook sources (owner API)", () => {
  it("answer a PUT with the source's id, URL, kind and rules, and never the secret", async () => {
    const { project, owner } = await setup();
    const res = await api("PUT", `/v1/projects/${project}/webhook-sources/github-main`, {
      token: owner,
      body: { kind: "github", secret: GITHUB_SECRET, rules: [RULE] },
    });
    expect(res.status).toBe(200);
    const source = res.body.source;
    expect(source).toMatchObject({ name: "github-main", kind: "github", rules: [RULE], orgId: null });
    expect(source.id).toMatch(/^whs_[0-9A-Z]{52}$/);
    expect(source.url).toBe(`/v1/hooks/${source.id}`);
    expect(source.id.slice(4, 30)).toBe(project.slice(4));
    const everything = JSON.stringify([
      res.body,
      (await api("GET", `/v1/projects/${project}/webhook-sources`, { token: owner })).body,
      (await api("GET", `/v1/projects/${project}/webhook-sources/github-main`, { token: owner })).body,
    ]);
    expect(everything).not.toContain(GITHUB_SECRET);
    expect(everything).not.toContain("secret");
  });

  it("keep the id across a replacing PUT, and apply a new secret at once", async () => {
    const { project, owner } = await setup();
    const first = await putSource(project, owner, "gh", { kind: "github", secret: GITHUB_SECRET, rules: [RULE] });
    expect((await deliver(first.id, push, await githubHeaders(push, "before-rotation"))).status).toBe(202);
    const rotated = "a-brand-new-secret-after-rotation";
    const second = await putSource(project, owner, "gh", { kind: "github", secret: rotated, rules: [RULE, RULE] });
    expect(second.id).toBe(first.id);
    expect(second.rules).toHaveLength(2);
    expect((await deliver(first.id, push, await githubHeaders(push, "old-secret"))).status).toBe(401);
    // Another body: the same one under a new delivery id is a replay (a duplicate) since issue 11.
    const next = push.replace("{", '{"n": 2, ');
    const fresh = await deliver(first.id, next, await githubHeaders(next, "new-secret", rotated));
    expect(fresh.status).toBe(202);
    expect(fresh.json.tasks).toHaveLength(2);
  });

  it("list sources and read one by name", async () => {
    const { project, owner } = await setup();
    await putSource(project, owner, "b-gitlab", { kind: "gitlab", secret: "gitlab-secret-0123456789", rules: [] });
    await putSource(project, owner, "a-ci", { kind: "standard", secret: STANDARD_SECRET, rules: [] });
    const list = await api("GET", `/v1/projects/${project}/webhook-sources`, { token: owner });
    expect(list.body.sources.map((s: { name: string }) => s.name)).toEqual(["a-ci", "b-gitlab"]);
    const one = await api("GET", `/v1/projects/${project}/webhook-sources/b-gitlab`, { token: owner });
    expect(one.body.source.kind).toBe("gitlab");
  });

  it("delete a source: 204, then 404 to its deliveries and to reading it", async () => {
    const { project, owner } = await setup();
    const source = await putSource(project, owner, "gh", { kind: "github", secret: GITHUB_SECRET, rules: [RULE] });
    expect((await deliver(source.id, push, await githubHeaders(push, "d1"))).status).toBe(202);
    expect((await api("DELETE", `/v1/projects/${project}/webhook-sources/gh`, { token: owner })).status).toBe(204);
    const after = await deliver(source.id, push, await githubHeaders(push, "d2"));
    expect(after.status).toBe(404);
    expect(after.json.error?.code).toBe("not_found");
    expect((await api("GET", `/v1/projects/${project}/webhook-sources/gh`, { token: owner })).status).toBe(404);
    expect((await api("DELETE", `/v1/projects/${project}/webhook-sources/gh`, { token: owner })).status).toBe(404);
  });

  it("are for owners only: 403 for a member, 404 for another project's owner", async () => {
    const { project, owner } = await setup();
    const member = await newToken(project, owner, "member");
    const body = { kind: "github", secret: GITHUB_SECRET, rules: [] };
    expect((await api("PUT", `/v1/projects/${project}/webhook-sources/x`, { token: member.token, body })).status).toBe(403);
    expect((await api("GET", `/v1/projects/${project}/webhook-sources`, { token: member.token })).status).toBe(403);
    const other = await newProject("other");
    expect((await api("PUT", `/v1/projects/${project}/webhook-sources/x`, { token: other.owner, body })).status).toBe(404);
    expect((await api("PUT", `/v1/projects/${project}/webhook-sources/x`, { body })).status).toBe(401);
  });

  it.each([
    [{ kind: "bitbucket", secret: GITHUB_SECRET, rules: [] }, "kind"],
    [{ kind: "github", rules: [] }, "secret"],
    [{ kind: "github", secret: "short", rules: [] }, "secret"],
    [{ kind: "standard", secret: "not-a-whsec-key-0123456789", rules: [] }, "secret"],
    [{ kind: "github", secret: GITHUB_SECRET, rules: [{ on: "push", task: { type: "deploy", org: "nosuchorg" } }] }, "rules[0].task.org"],
    [{ kind: "github", secret: GITHUB_SECRET, rules: [{ on: "push", task: { type: "explode", org: "demo" } }] }, "rules.0.task.type"],
    [{ kind: "github", secret: GITHUB_SECRET, rules: [{ on: "push", if: { "a..b": "x" }, task: { type: "deploy", org: "demo" } }] }, "rules.0.if"],
    [{ kind: "github", secret: GITHUB_SECRET, rules: [], extra: true }, ""],
  ])("answer 400 to the PUT body %j, naming %s", async (body, field) => {
    const { project, owner } = await setup();
    const res = await api("PUT", `/v1/projects/${project}/webhook-sources/x`, { token: owner, body });
    expect(res.status).toBe(400);
    expect(res.body.error.code).toBe("invalid_request");
    if (field) expect(res.body.error.field.replace(/\[(\d+)\]/g, ".$1")).toContain(field.replace(/\[(\d+)\]/g, ".$1"));
  });
});

describe("the contract document", () => {
  it("lists the webhook source routes and the delivery route", async () => {
    const doc = await api("GET", "/v1/openapi.json");
    expect(doc.status).toBe(200);
    expect(Object.keys(doc.body.paths)).toEqual(
      expect.arrayContaining(["/v1/hooks/{sourceId}", "/v1/projects/{project}/webhook-sources", "/v1/projects/{project}/webhook-sources/{name}"]),
    );
    expect(doc.body.components.schemas).toHaveProperty("PutWebhookSourceBody");
  });
});

describe("deliveries, before any signature check,", () => {
  it("answer 404 to an unknown, forged or malformed source id", async () => {
    const { project, owner } = await setup();
    const real = await putSource(project, owner, "gh", { kind: "github", secret: GITHUB_SECRET, rules: [RULE] });
    const forged = real.id.slice(0, 30) + "0".repeat(26);
    for (const id of [forged, "whs_nope", "x".repeat(90), real.id.toLowerCase()]) {
      const res = await deliver(id, push, await githubHeaders(push, "d"));
      expect(res.status).toBe(404);
      expect(res.json.error?.code).toBe("not_found");
    }
  });

  it("limit a client address that keeps guessing source ids (429 after the unauthenticated limit)", async () => {
    const ip = "203.0.113.9";
    const statuses: number[] = [];
    for (let batch = 0; batch < 40 && !statuses.includes(429); batch++) {
      const answers = await Promise.all(
        Array.from({ length: 50 }, (_, i) => deliver(`whs_${String(batch * 50 + i).padStart(52, "0")}`, "{}", { "content-type": "application/json" }, { ip })),
      );
      statuses.push(...answers.map((a) => a.status));
    }
    expect(statuses.every((s) => s === 404 || s === 429)).toBe(true);
    expect(statuses.filter((s) => s === 429).length).toBeGreaterThan(0);
  }, 60_000);

  it("answer 413 to a declared body over 1 MiB without needing its signature", async () => {
    const { project, owner, source } = await githubWorld();
    const big = new Uint8Array(1024 * 1024 + 1).fill(0x20);
    const res = await deliver(source.id, big, await githubHeaders(big, "big"));
    expect(res.status).toBe(413);
    expect(res.json.error?.code).toBe("too_large");
    expect(await listTasks(project, owner)).toHaveLength(0);
  });

  it("answer 413 to a streamed body that passes 1 MiB without a Content-Length, having read little more than 1 MiB", async () => {
    const { project, owner, source } = await githubWorld();
    let sent = 0;
    const stream = new ReadableStream<Uint8Array>(
      {
        pull(controller) {
          if (sent >= 8 * 1024 * 1024) return controller.close();
          sent += 64 * 1024;
          controller.enqueue(new Uint8Array(64 * 1024).fill(0x20));
        },
      },
      { highWaterMark: 0 },
    );
    const res = await deliver(source.id, stream, {
      "content-type": "application/json",
      "x-github-event": "push",
      "x-github-delivery": "s",
      "x-hub-signature-256": `sha256=${"0".repeat(64)}`,
    });
    expect(res.status).toBe(413);
    expect(res.json.error).toEqual({ code: "too_large", message: expect.any(String), requestId: expect.any(String) });
    // The Worker stops at the chunk that passes 1 MiB; the runtime's pipe may hold a few chunks in flight.
    expect(sent).toBeGreaterThan(MIB);
    expect(sent).toBeLessThanOrEqual(MIB + 256 * 1024);
    expect(await listTasks(project, owner)).toHaveLength(0);
  });

  it.each([["text/plain"], ["application/xml"], [""]])("answer 415 to a GitHub delivery of type %j", async (type) => {
    const { source } = await githubWorld();
    const headers: Record<string, string> = await githubHeaders(push, "t");
    if (type) headers["content-type"] = type;
    else delete headers["content-type"];
    const res = await deliver(source.id, push, headers);
    expect(res.status).toBe(415);
    expect(res.json.error?.code).toBe("unsupported_media_type");
  });

  it("accept a media type with parameters (application/json; charset=utf-8)", async () => {
    const { source } = await githubWorld();
    const res = await deliver(source.id, push, { ...(await githubHeaders(push, "cs")), "content-type": "application/json; charset=utf-8" });
    expect(res.status).toBe(202);
  });
});

describe("rate limits", () => {
  it("answer 429 with Retry-After once one source passes its limit, whatever the client address", async () => {
    const { source } = await githubWorld();
    // The cheapest request that still counts: a signed ping (proven genuine, so it spends the source's
    // limit, and answered before any task is made). Unsigned requests no longer count (webhook-floods.test.ts).
    const ping = JSON.stringify({ zen: "Keep it logically awesome.", hook_id: 1 });
    const headers = { ...(await githubHeaders(ping, "ping-1")), "x-github-event": "ping" };
    let limited: Response | undefined;
    // The limiter counts in fixed 10 s windows, so keep sending until one window has seen its limit.
    for (let batch = 0; batch < 60 && !limited; batch++) {
      const answers = await Promise.all(
        Array.from({ length: 100 }, (_, i) =>
          SELF.fetch(`${BASE}/v1/hooks/${source.id}`, {
            method: "POST",
            body: ping,
            headers: { ...headers, "cf-connecting-ip": `10.9.${batch}.${i}` },
          }),
        ),
      );
      for (const a of answers) await a.body?.cancel();
      limited = answers.find((a) => a.status === 429);
      expect(answers.every((a) => a.status === 200 || a.status === 429)).toBe(true);
    }
    expect(limited?.status).toBe(429);
    expect(Number(limited?.headers.get("retry-after"))).toBeGreaterThan(0);
  }, 120_000);

  it("limit failed signatures per client address, while genuine deliveries from that address still pass", async () => {
    const { source } = await githubWorld();
    const ip = "203.0.113.77";
    const statuses: number[] = [];
    for (let batch = 0; batch < 40 && !statuses.includes(429); batch++) {
      const answers = await Promise.all(
        Array.from({ length: 50 }, async (_, i) =>
          deliver(source.id, push, await githubHeaders(push, `bad-${batch}-${i}`, "wrong-secret-wrong-secret"), { ip }),
        ),
      );
      statuses.push(...answers.map((a) => a.status));
    }
    expect(statuses.filter((s) => s === 401).length).toBeGreaterThan(0);
    const limited = statuses.filter((s) => s === 429);
    expect(limited.length).toBeGreaterThan(0);
    expect(statuses.every((s) => s === 401 || s === 429)).toBe(true);
    const genuine = await deliver(source.id, push, await githubHeaders(push, "good-from-same-ip"), { ip });
    expect(genuine.status).toBe(202);
  }, 60_000);
});

async function githubWorld() {
  const { project, owner } = await setup();
  const source = await putSource(project, owner, "gh", { kind: "github", secret: GITHUB_SECRET, rules: [RULE] });
  return { project, owner, source };
}
