// Issue 11 "The Salesforce source id is its only credential, and viewers can read it": tasks show the
// source's name and a tag-less reference, never the id; an owner can rotate a source's URL, after
// which the old one names nothing and re-deliveries are still recognised.
import { env, runInDurableObject } from "cloudflare:test";
import { describe, expect, it } from "vitest";
import { projectStub } from "../../actors/env.ts";
import { sourceRef } from "../../common/source-ids.ts";
import { api, newToken, openSocket, setup } from "./helpers.ts";
import { deliver, listTasks, ORG_ID, putSource } from "./webhooks-helpers.ts";
import one from "../fixtures/webhooks/salesforce-one-notification.xml?raw";
import three from "../fixtures/webhooks/salesforce-three-notifications.xml?raw";

const RULES = [{ on: "*", task: { type: "org-check", org: "demo" } }];
const SOAP = { "content-type": "text/xml; charset=utf-8", soapaction: '""' };
const ACK = /<Ack>true<\/Ack>/;

async function world() {
  const { project, owner } = await setup();
  const source = await putSource(project, owner, "sf-outbound", { kind: "salesforce", orgId: ORG_ID, rules: RULES });
  const viewer = await newToken(project, owner, "viewer");
  return { project, owner, viewer: viewer.token, source };
}

describe("webhook tasks and their source", () => {
  it("show every reader the source's name and reference, never its id: GET, list and project feed", async () => {
    const { project, viewer, source } = await world();
    const feed = (await openSocket(`/v1/projects/${project}/ws`, viewer)).socket;
    if (!feed) throw new Error("no feed socket");
    await feed.until((m) => m[0]?.type === "hello");
    const res = await deliver(source.id, one, SOAP);
    expect(res.text).toMatch(ACK);
    const [item] = await listTasks(project, viewer);
    expect(item.source).toEqual({
      kind: "webhook",
      sourceId: sourceRef(source.id),
      sourceName: "sf-outbound",
      deliveryId: expect.any(String),
      event: expect.any(String),
      rule: 0,
    });
    const read = await api("GET", `/v1/tasks/${item.id}`, { token: viewer });
    expect(read.body.task.source).toMatchObject({ sourceId: sourceRef(source.id), sourceName: "sf-outbound" });
    const messages = await feed.until((m) => m.some((x) => x.type === "task"));
    const seen = JSON.stringify([await listTasks(project, viewer), read.body, messages]);
    expect(seen).not.toContain(source.id);
    // The reference cannot be completed into the URL: it lacks the 13-character tag.
    expect(sourceRef(source.id)).toBe(`${source.id.slice(0, -13)}…`);
    feed.close();
  });

  it("show the reference in the list also for tasks indexed with the whole id before", async () => {
    const { project, viewer, source } = await world();
    expect((await deliver(source.id, one, SOAP)).text).toMatch(ACK);
    const [item] = await listTasks(project, viewer);
    await runInDurableObject(projectStub(env, project), (_a, state) => {
      state.storage.sql.exec("UPDATE sfp_tasks SET body = json_set(body, '$.source.sourceId', ?) WHERE id = ?", source.id, item.id);
    });
    const again = await listTasks(project, viewer);
    expect(again[0].source).toMatchObject({ kind: "webhook", sourceId: sourceRef(source.id) });
    expect(JSON.stringify(again)).not.toContain(source.id);
  });
});

describe("rotating a source's URL", () => {
  it("gives the source a new id and URL; the old one is refused, the new one works, and a re-delivery makes no second task", async () => {
    const { project, owner, viewer, source } = await world();
    expect((await deliver(source.id, one, SOAP)).text).toMatch(ACK);
    const rotated = await api("POST", `/v1/projects/${project}/webhook-sources/sf-outbound/rotate`, { token: owner });
    expect(rotated.status).toBe(200);
    const fresh = rotated.body.source;
    expect(fresh).toMatchObject({ name: "sf-outbound", kind: "salesforce", orgId: ORG_ID, rules: RULES });
    expect(fresh.id).toMatch(/^whs_[0-9A-Z]{52}$/);
    expect(fresh.id).not.toBe(source.id);
    expect(fresh.url).toBe(`/v1/hooks/${fresh.id}`);
    expect((await api("GET", `/v1/projects/${project}/webhook-sources/sf-outbound`, { token: owner })).body.source.id).toBe(fresh.id);

    const old = await deliver(source.id, three, SOAP);
    expect(old.status).toBe(404);
    // Salesforce re-sends the first message to the new URL: recognised, Acked, no second task.
    expect((await deliver(fresh.id, one, SOAP)).text).toMatch(ACK);
    expect(await listTasks(project, viewer)).toHaveLength(1);
    // A new message through the new URL makes its tasks, which show the new reference.
    expect((await deliver(fresh.id, three, SOAP)).text).toMatch(ACK);
    const tasks = await listTasks(project, viewer);
    expect(tasks).toHaveLength(4);
    expect(tasks.filter((t) => t.source.kind === "webhook" && t.source.sourceId === sourceRef(fresh.id))).toHaveLength(3);
  });

  it("is for owners only: 403 for a member, 404 for another project's owner and for an unknown source", async () => {
    const { project, owner, source } = await world();
    const member = await newToken(project, owner, "member");
    const other = await setup("other");
    const path = `/v1/projects/${project}/webhook-sources/sf-outbound/rotate`;
    expect((await api("POST", path, { token: member.token })).status).toBe(403);
    expect((await api("POST", path, { token: other.owner })).status).toBe(404);
    expect((await api("POST", path)).status).toBe(401);
    const unknown = await api("POST", `/v1/projects/${project}/webhook-sources/nope/rotate`, { token: owner });
    expect(unknown.status).toBe(404);
    expect(unknown.body.error).toMatchObject({ code: "not_found" });
    // Nothing was rotated by the refused calls.
    expect((await api("GET", `/v1/projects/${project}/webhook-sources/sf-outbound`, { token: owner })).body.source.id).toBe(source.id);
  });

  it("is in the OpenAPI document, and the task source documents its reference and name", async () => {
    const doc = (await api("GET", "/v1/openapi.json")).body;
    expect(doc.paths["/v1/projects/{project}/webhook-sources/{name}/rotate"]?.post).toBeDefined();
    const webhook = doc.components.schemas.TaskSource.oneOf.find(
      (s: any) => s.properties.kind.enum?.includes("webhook") || s.properties.kind.const === "webhook",
    );
    expect(Object.keys(webhook.properties)).toEqual(expect.arrayContaining(["sourceId", "sourceName"]));
  });
});
