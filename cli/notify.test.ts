// `sfp-edge notify put|list|deliveries|redeliver` against a loopback stand-in for the edge that
// records each request: the right route and body, the secret printed once, usage errors before any request.
import { describe, expect, it } from "vitest";
import { putBody } from "./commands/notify.ts";
import { standInEdge } from "./testing.ts";

const endpoint = {
  name: "ci",
  url: "https://hooks.example.com/x",
  events: ["task.failed"],
  enabled: true,
  disabledReason: null,
  secretRotatedAt: null,
  createdAt: "t",
  updatedAt: "t",
};
const delivery = {
  id: "msg_1",
  event: "task.failed",
  taskId: "tsk_1",
  status: "failed",
  attempts: 8,
  lastResponseCode: 503,
  lastAttemptAt: "t",
  nextAttemptAt: null,
  createdAt: "t",
};
const { requests, cli } = standInEdge((req) => {
  const url = req.url ?? "";
  if (url.endsWith("/redeliver")) return [202, { delivery: { ...delivery, status: "pending" } }];
  if (url.includes("/deliveries")) return [200, { deliveries: [delivery] }];
  if (url.endsWith("/rotate-secret")) return [200, { endpoint, secret: "whsec_rotated" }];
  if (req.method === "PUT") return [200, { endpoint, secret: "whsec_first" }];
  return [200, { endpoints: [endpoint] }];
});

describe("sfp-edge notify", () => {
  it("put sends the endpoint and prints the secret once; --rotate-secret asks for a new one", async () => {
    requests.length = 0;
    const put = await cli("notify", "put", "ci", "--url", "https://hooks.example.com/x", "--events", "task.failed, task.succeeded");
    expect(put.code).toBe(0);
    expect(requests[0]).toMatchObject({ method: "PUT", url: "/v1/projects/prj_1/notification-endpoints/ci" });
    expect(JSON.parse(requests[0].body)).toEqual({ url: "https://hooks.example.com/x", events: ["task.failed", "task.succeeded"], enabled: true });
    expect(put.out).toContain("whsec_first");
    const rotated = await cli("notify", "put", "ci", "--url", "https://hooks.example.com/x", "--events", "*", "--rotate-secret", "--disabled");
    expect(requests.map((r) => `${r.method} ${r.url}`).slice(1)).toEqual([
      "PUT /v1/projects/prj_1/notification-endpoints/ci",
      "POST /v1/projects/prj_1/notification-endpoints/ci/rotate-secret",
    ]);
    expect(JSON.parse(requests[1].body).enabled).toBe(false);
    expect(rotated.out).toContain("whsec_rotated");
  });

  it("list, deliveries and redeliver call their routes", async () => {
    requests.length = 0;
    expect((await cli("notify", "list")).out).toContain("ci  https://hooks.example.com/x  task.failed  enabled");
    const log = await cli("notify", "deliveries", "ci", "--limit", "5");
    expect(log.out).toContain("msg_1  task.failed  failed  attempts=8  last=503");
    const again = await cli("--json", "notify", "redeliver", "ci", "msg_1");
    expect(JSON.parse(again.out)).toMatchObject({ delivery: { id: "msg_1", status: "pending" } });
    expect(requests.map((r) => `${r.method} ${r.url}`)).toEqual([
      "GET /v1/projects/prj_1/notification-endpoints",
      "GET /v1/projects/prj_1/notification-endpoints/ci/deliveries?limit=5",
      "POST /v1/projects/prj_1/notification-endpoints/ci/deliveries/msg_1/redeliver",
    ]);
  });

  it("refuses a bad command line with exit 2 before any request", async () => {
    requests.length = 0;
    expect(() => putBody(["ci", "--url", "https://x"])).toThrow(/--events/);
    expect((await cli("notify", "put", "ci", "--events", "*")).code).toBe(2);
    expect((await cli("notify", "redeliver", "ci")).code).toBe(2);
    expect(requests).toHaveLength(0);
  });
});
