// `sfp-edge schedule put|list|runs|pause|resume` and `task create --at` against a loopback stand-in for
// the edge that records each request: the right routes and bodies, usage errors before any request.
import { describe, expect, it } from "vitest";
import { standInEdge } from "../testing.ts";
import { runAtFlag } from "./schedule-at.ts";

const schedule = {
  name: "nightly",
  project: "prj_1",
  cron: "0 22 * * 1-5",
  timezone: "Europe/Berlin",
  task: { type: "run-tests", org: "demo", labels: ["x"] },
  enabled: true,
  overlap: "skip",
  missed: "latest",
  createdAt: "t",
  updatedAt: "t",
  nextRunAt: "2026-12-03T21:00:00.000Z",
};
const { requests, cli } = standInEdge((req, body) => {
  const url = req.url ?? "";
  if (url.endsWith("/tasks")) {
    const sent = JSON.parse(body);
    return [201, { task: { id: "tsk_1", type: sent.type, org: sent.org, status: "scheduled", runAt: sent.runAt } }];
  }
  if (url.includes("/runs")) {
    return [
      200,
      {
        runs: [{ slot: "2026-12-02T21:00:00.000Z", firedAt: "t", outcome: "created", taskId: "tsk_9", missed: 2 }],
        next: ["2026-12-03T21:00:00.000Z"],
      },
    ];
  }
  if (req.method === "PUT") return [200, { schedule: { ...schedule, ...JSON.parse(body) } }];
  if (url.endsWith("/schedules")) return [200, { schedules: [schedule] }];
  return [200, { schedule }];
});

describe("sfp-edge schedule", () => {
  it("put sends the cron, timezone, policies and task template", async () => {
    requests.length = 0;
    const put = await cli(
      "schedule",
      "put",
      "nightly",
      "--cron",
      "0 22 * * 1-5",
      "--timezone",
      "Europe/Berlin",
      "--type",
      "run-tests",
      "--org",
      "demo",
      "--label",
      "x",
      "--overlap",
      "queue",
    );
    expect(put.code).toBe(0);
    expect(requests[0]).toMatchObject({ method: "PUT", url: "/v1/projects/prj_1/schedules/nightly" });
    expect(JSON.parse(requests[0].body)).toEqual({
      cron: "0 22 * * 1-5",
      timezone: "Europe/Berlin",
      task: { type: "run-tests", org: "demo", labels: ["x"] },
      enabled: true,
      overlap: "queue",
      missed: "latest",
    });
    expect(put.out).toContain("nightly");
  });

  it("list and runs call their routes and show next runs and task ids", async () => {
    requests.length = 0;
    expect((await cli("schedule", "list")).out).toContain("next 2026-12-03T21:00:00.000Z");
    const runs = await cli("schedule", "runs", "nightly", "--limit", "5", "--next", "1");
    expect(runs.out).toContain("next: 2026-12-03T21:00:00.000Z");
    expect(runs.out).toContain("2026-12-02T21:00:00.000Z  created  tsk_9  missed=2");
    expect(requests.map((r) => `${r.method} ${r.url}`)).toEqual([
      "GET /v1/projects/prj_1/schedules",
      "GET /v1/projects/prj_1/schedules/nightly/runs?limit=5&next=1",
    ]);
  });

  it("pause and resume put the schedule back with enabled changed", async () => {
    requests.length = 0;
    expect((await cli("schedule", "pause", "nightly")).out).toContain("paused");
    expect((await cli("schedule", "resume", "nightly")).out).toContain("resumed");
    expect(requests.map((r) => `${r.method} ${r.url}`)).toEqual([
      "GET /v1/projects/prj_1/schedules/nightly",
      "PUT /v1/projects/prj_1/schedules/nightly",
      "GET /v1/projects/prj_1/schedules/nightly",
      "PUT /v1/projects/prj_1/schedules/nightly",
    ]);
    expect(JSON.parse(requests[1].body)).toEqual({
      cron: "0 22 * * 1-5",
      timezone: "Europe/Berlin",
      task: { type: "run-tests", org: "demo", labels: ["x"] },
      overlap: "skip",
      missed: "latest",
      enabled: false,
    });
    expect(JSON.parse(requests[3].body).enabled).toBe(true);
  });

  it("refuses a bad command line with exit 2 before any request", async () => {
    requests.length = 0;
    expect((await cli("schedule", "put", "nightly", "--type", "run-tests", "--org", "demo")).code).toBe(2);
    expect((await cli("schedule", "put", "nightly", "--cron", "0 * * * *", "--type", "run-tests", "--org", "demo", "--overlap", "maybe")).code).toBe(2);
    expect((await cli("schedule", "runs")).code).toBe(2);
    expect((await cli("task", "create", "run-tests", "--org", "demo", "--at", "tomorrow")).code).toBe(2);
    expect((await cli("task", "create", "run-tests", "--org", "demo", "--at", "2026-12-24T22:00:00")).code).toBe(2);
    expect(requests).toHaveLength(0);
  });
});

describe("sfp-edge task create --at", () => {
  it("sends runAt from an ISO instant or +<n><unit>", async () => {
    requests.length = 0;
    const made = await cli("task", "create", "run-tests", "--org", "demo", "--at", "2026-12-24T22:00:00+01:00");
    expect(made.code).toBe(0);
    expect(JSON.parse(requests[0].body).runAt).toBe("2026-12-24T21:00:00.000Z");
    expect(made.out).toContain("scheduled until 2026-12-24T21:00:00.000Z");
    expect(runAtFlag("+10m", "u", Date.parse("2026-01-01T00:00:00Z"))).toBe("2026-01-01T00:10:00.000Z");
    expect(runAtFlag("+2s", "u", Date.parse("2026-01-01T00:00:00Z"))).toBe("2026-01-01T00:00:02.000Z");
    expect(runAtFlag("+1d", "u", Date.parse("2026-01-01T00:00:00Z"))).toBe("2026-01-02T00:00:00.000Z");
  });
});
