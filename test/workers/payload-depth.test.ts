import { describe, expect, it } from "vitest";
import { api, setup } from "./helpers.ts";

function nested(depth: number): Record<string, unknown> {
  let value: Record<string, unknown> = { leaf: true };
  for (let i = 0; i < depth; i++) value = { a: value };
  return value;
}

describe("a task payload's nesting", () => {
  it("refuses a payload nested deeper than 64 levels with 400 naming the field, and creates nothing", async () => {
    const { project, owner } = await setup("deep");
    const res = await api("POST", `/v1/projects/${project}/tasks`, { token: owner, body: { type: "query", org: "demo", payload: nested(100) } });
    expect(res.status).toBe(400);
    expect(res.body.error).toMatchObject({ code: "invalid_request", field: "payload" });
    expect(res.body.error.message).toContain("deeper than 64");
    const list = await api("GET", `/v1/projects/${project}/tasks`, { token: owner });
    expect(list.body.tasks).toEqual([]);
  });

  it("answers 400, never a 500, for a payload nested thousands of levels deep", async () => {
    const { project, owner } = await setup("deeper");
    const res = await api("POST", `/v1/projects/${project}/tasks`, { token: owner, body: { type: "query", org: "demo", payload: nested(5_000) } });
    expect(res.status).toBe(400);
  });

  it("takes a payload at the limit", async () => {
    const { project, owner } = await setup("limit");
    const res = await api("POST", `/v1/projects/${project}/tasks`, {
      token: owner,
      body: { type: "query", org: "demo", payload: { soql: "SELECT Id FROM Account", x: nested(60) } },
    });
    expect(res.status).toBe(201);
  });
});
