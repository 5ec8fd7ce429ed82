// Standard Webhooks deliveries (CI systems, Svix): webhook-id, webhook-timestamp (±5 min) and
// webhook-signature `v1,<base64 HMAC(key, id.timestamp.body)>`, one or more entries.
import { env } from "cloudflare:test";
import { describe, expect, it } from "vitest";
import { webhookTaskId } from "../../common/task-ids.ts";
import { newToken, setup } from "./helpers.ts";
import { deliver, getTask, listTasks, nowSeconds, putSource, STANDARD_SECRET, standardSignature } from "./webhooks-helpers.ts";
import pipeline from "../fixtures/webhooks/standard-pipeline-succeeded.json?raw";

const RULES = [
  {
    on: "pipeline.succeeded",
    if: { "data.pipeline.branch": "main" },
    task: { type: "deploy", org: "demo", priority: "critical", payload: { zipUrl: "{{data.artifact.url}}", testLevel: "RunLocalTests" } },
  },
];

function without(h: Record<string, string>, name: string): Record<string, string> {
  return Object.fromEntries(Object.entries(h).filter(([k]) => k !== name));
}

async function world() {
  const { project, owner } = await setup();
  const source = await putSource(project, owner, "ci", { kind: "standard", secret: STANDARD_SECRET, rules: RULES });
  return { project, viewer: (await newToken(project, owner, "viewer")).token, source };
}

async function standardHeaders(id: string, body = pipeline, timestamp = nowSeconds()) {
  return {
    "content-type": "application/json",
    "webhook-id": id,
    "webhook-timestamp": timestamp,
    "webhook-signature": await standardSignature(id, timestamp, body),
  };
}

describe("Standard Webhooks deliveries", () => {
  it("turn a signed event into the mapped task", async () => {
    const { viewer, source } = await world();
    const res = await deliver(source.id, pipeline, await standardHeaders("msg_2mVtZ4Bp9d0Qe7"));
    expect(res.status).toBe(202);
    expect(res.json).toEqual({ deliveryId: "msg_2mVtZ4Bp9d0Qe7", tasks: [await webhookTaskId(env.TOKEN_SIGNING_KEY, source.id, "msg_2mVtZ4Bp9d0Qe7", 0)] });
    const { task } = await getTask(res.json.tasks![0], viewer);
    expect(task).toMatchObject({
      type: "deploy",
      priority: "critical",
      status: "queued",
      payload: { zipUrl: "https://ci.example/artifacts/pl_01JKQ4X0M3/metadata.zip", testLevel: "RunLocalTests" },
      source: { event: "pipeline.succeeded", deliveryId: "msg_2mVtZ4Bp9d0Qe7" },
    });
  });

  it("accept a header with several signatures when any one is valid (key rotation)", async () => {
    const { source } = await world();
    const h = await standardHeaders("msg_rotation");
    const stale = await standardSignature("msg_rotation", h["webhook-timestamp"], pipeline, `whsec_${btoa("an-old-key-that-was-rotated-out!")}`);
    const res = await deliver(source.id, pipeline, { ...h, "webhook-signature": `v1a,ignored ${stale} ${h["webhook-signature"]}` });
    expect(res.status).toBe(202);
  });

  it("accept Svix's svix-id, svix-timestamp and svix-signature headers (the same scheme)", async () => {
    const { source } = await world();
    const h = await standardHeaders("msg_svix");
    const res = await deliver(source.id, pipeline, {
      "content-type": "application/json",
      "svix-id": h["webhook-id"],
      "svix-timestamp": h["webhook-timestamp"],
      "svix-signature": h["webhook-signature"],
    });
    expect(res.status).toBe(202);
    expect(res.json.deliveryId).toBe("msg_svix");
  });

  describe("answer 401 and make no task for", () => {
    const cases: [string, (h: Record<string, string>) => Promise<[string, Record<string, string>]>][] = [
      [
        "a signature made with another key",
        async (h) => [
          pipeline,
          {
            ...h,
            "webhook-signature": await standardSignature(
              h["webhook-id"],
              h["webhook-timestamp"],
              pipeline,
              `whsec_${btoa("some-other-key-of-thirty-two-b!!")}`,
            ),
          },
        ],
      ],
      ["a missing webhook-signature", async (h) => [pipeline, without(h, "webhook-signature")]],
      ["a tampered body", async (h) => [pipeline.replace('"main"', '"evil"'), h]],
      ["a signature over another webhook-id", async (h) => [pipeline, { ...h, "webhook-id": "msg_other" }]],
      ["a truncated signature", async (h) => [pipeline, { ...h, "webhook-signature": h["webhook-signature"].slice(0, -6) }]],
      ["a signature that is not base64", async (h) => [pipeline, { ...h, "webhook-signature": "v1,%%%not-base64%%%" }]],
      ["a signature of another version", async (h) => [pipeline, { ...h, "webhook-signature": h["webhook-signature"].replace("v1,", "v2,") }]],
    ];
    it.each(cases)("%s", async (_name, mutate) => {
      const { project, viewer, source } = await world();
      const [body, headers] = await mutate(await standardHeaders("msg_bad"));
      const res = await deliver(source.id, body, headers);
      expect(res.status).toBe(401);
      expect(res.json.error?.code).toBe("bad_signature");
      expect(await listTasks(project, viewer)).toHaveLength(0);
    });
  });

  it.each([
    ["stale", -6 * 60],
    ["future", 6 * 60],
  ])("answer 401 stale_timestamp to a correctly signed delivery with a %s timestamp", async (_name, offset) => {
    const { project, viewer, source } = await world();
    const res = await deliver(source.id, pipeline, await standardHeaders("msg_time", pipeline, nowSeconds(offset)));
    expect(res.status).toBe(401);
    expect(res.json.error?.code).toBe("stale_timestamp");
    expect(await listTasks(project, viewer)).toHaveLength(0);
  });

  it("accept a timestamp a few minutes off (within ±5 min)", async () => {
    const { source } = await world();
    expect((await deliver(source.id, pipeline, await standardHeaders("msg_skew", pipeline, nowSeconds(-4 * 60)))).status).toBe(202);
  });

  it.each(["webhook-id", "webhook-timestamp"])("answer 400 when %s is missing", async (header) => {
    const { source } = await world();
    const headers: Record<string, string> = await standardHeaders("msg_missing");
    delete headers[header];
    expect((await deliver(source.id, pipeline, headers)).status).toBe(400);
  });

  it("answer 400 to a signed body without a type", async () => {
    const { source } = await world();
    const body = JSON.stringify({ data: {} });
    const res = await deliver(source.id, body, await standardHeaders("msg_notype", body));
    expect(res.status).toBe(400);
    expect(res.json.error?.field).toBe("type");
  });

  it("answer a re-delivery with 200, duplicate: true and the same ids, and 20 concurrent copies with one task", async () => {
    const { project, viewer, source } = await world();
    const first = await deliver(source.id, pipeline, await standardHeaders("msg_dup"));
    const again = await deliver(source.id, pipeline, await standardHeaders("msg_dup"));
    expect(again).toMatchObject({ status: 200, json: { deliveryId: "msg_dup", duplicate: true, tasks: first.json.tasks } });
    const headers = await standardHeaders("msg_storm");
    const storm = await Promise.all(Array.from({ length: 20 }, () => deliver(source.id, pipeline, headers)));
    for (const a of storm) expect(a.json.tasks).toEqual(storm[0].json.tasks);
    expect(await listTasks(project, viewer)).toHaveLength(2);
  });
});
