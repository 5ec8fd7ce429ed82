// Salesforce Outbound Messages: SOAP envelopes authenticated by OrganizationId (= the source's orgId)
// and the unguessable source id; one delivery per Notification Id; answered with the SOAP Ack.
import { env } from "cloudflare:test";
import { describe, expect, it } from "vitest";
import { webhookTaskId } from "../../common/task-ids.ts";
import { api, newToken, putOrg, setup } from "./helpers.ts";
import { deliver, getTask, listTasks, ORG_ID, putSource } from "./webhooks-helpers.ts";
import one from "../fixtures/webhooks/salesforce-one-notification.xml?raw";
import three from "../fixtures/webhooks/salesforce-three-notifications.xml?raw";

const RULES = [
  {
    on: "Opportunity",
    if: { "sObject.StageName": "Closed Won" },
    task: { type: "org-check", org: "demo", payload: { limits: ["DailyApiRequests"], opportunity: "{{sObject.Id}}" } },
  },
  {
    on: "Release__c",
    if: { "sObject.Status__c": "Approved" },
    task: { type: "deploy", org: "uat", payload: { zipUrl: "https://ci.example/releases/{{sObject.Name}}.zip", release: "{{sObject.Id}}" } },
  },
];
const SOAP = { "content-type": "text/xml; charset=utf-8", soapaction: '""', "user-agent": "Jakarta Commons-HttpClient/3.1" };

async function world() {
  const { project, owner } = await setup();
  await putOrg(project, owner, "uat", { pool: "uat-pool" });
  const source = await putSource(project, owner, "sf-outbound", { kind: "salesforce", orgId: ORG_ID, rules: RULES });
  return { project, owner, viewer: (await newToken(project, owner, "viewer")).token, source };
}

function isAck(text: string): boolean {
  return /<soapenv:Envelope[\s\S]*<notificationsResponse[^>]*>\s*<Ack>true<\/Ack>\s*<\/notificationsResponse>/.test(text);
}

describe("Salesforce outbound messages", () => {
  it("answer the SOAP Ack as text/xml and create the mapped task, without the SessionId", async () => {
    const { viewer, source } = await world();
    const res = await deliver(source.id, one, SOAP);
    expect(res.status).toBe(200);
    expect(res.headers.get("content-type")).toMatch(/^text\/xml/);
    expect(isAck(res.text)).toBe(true);
    const id = await webhookTaskId(env.TOKEN_SIGNING_KEY, source.id, "04l5g00000LqT9aAAF", 0);
    const { status, task } = await getTask(id, viewer);
    expect(status).toBe(200);
    expect(task).toMatchObject({
      type: "org-check",
      status: "queued",
      payload: { limits: ["DailyApiRequests"], opportunity: "0065g00000ZkQ2NAAV" },
      source: { kind: "webhook", event: "Opportunity", deliveryId: "04l5g00000LqT9aAAF", rule: 0 },
    });
    expect(JSON.stringify(task)).not.toContain("never_leak");
  });

  it("make one task set per Notification, for the Notifications a rule matches", async () => {
    const { project, viewer, source } = await world();
    const res = await deliver(source.id, three, SOAP);
    expect(isAck(res.text)).toBe(true);
    const tasks = await listTasks(project, viewer);
    const expected = [
      await webhookTaskId(env.TOKEN_SIGNING_KEY, source.id, "04l5g00000LqTA1AAN", 1),
      await webhookTaskId(env.TOKEN_SIGNING_KEY, source.id, "04l5g00000LqTA3AAN", 1),
    ];
    expect(tasks.map((t) => t.id).sort()).toEqual(expected.sort());
    // List items are summaries: the payload is read from each whole task.
    const whole = await Promise.all(tasks.map(async (t) => (await getTask(t.id, viewer)).task!));
    const byRelease = Object.fromEntries(whole.map((t) => [t.payload.release, t]));
    expect(byRelease.a015g00000Hh1QmAAJ).toMatchObject({ org: "uat", pool: "uat-pool", payload: { zipUrl: "https://ci.example/releases/2025.02.zip" } });
    expect(byRelease.a015g00000Hh1QoAAJ).toMatchObject({ payload: { zipUrl: "https://ci.example/releases/2025.02-hotfix.zip" } });
  });

  it("Ack a re-sent message again without making a second task, also for 20 concurrent copies", async () => {
    const { project, viewer, source } = await world();
    expect(isAck((await deliver(source.id, three, SOAP)).text)).toBe(true);
    expect(isAck((await deliver(source.id, three, SOAP)).text)).toBe(true);
    const storm = await Promise.all(Array.from({ length: 20 }, () => deliver(source.id, one, SOAP)));
    expect(storm.every((a) => a.status === 200 && isAck(a.text))).toBe(true);
    expect(await listTasks(project, viewer)).toHaveLength(3);
  });

  it("match the org by its 15-character id when the source was given the 18-character form", async () => {
    const { project, owner } = await setup();
    const source = await putSource(project, owner, "sf18", { kind: "salesforce", orgId: ORG_ID, rules: RULES.slice(0, 1) });
    const message = one.replaceAll(`<OrganizationId>${ORG_ID}</OrganizationId>`, `<OrganizationId>${ORG_ID.slice(0, 15)}</OrganizationId>`);
    expect(message).toContain(`<OrganizationId>${ORG_ID.slice(0, 15)}</OrganizationId>`);
    expect(isAck((await deliver(source.id, message, SOAP)).text)).toBe(true);
    expect((await listTasks(project, owner)).map((t) => t.id)).toEqual([await webhookTaskId(env.TOKEN_SIGNING_KEY, source.id, "04l5g00000LqT9aAAF", 0)]);
  });

  it("match the org by its 18-character id when the source was given the 15-character form", async () => {
    const { project, owner } = await setup();
    const source = await putSource(project, owner, "sf15", { kind: "salesforce", orgId: ORG_ID.slice(0, 15), rules: RULES.slice(0, 1) });
    expect(one).toContain(`<OrganizationId>${ORG_ID}</OrganizationId>`);
    expect(isAck((await deliver(source.id, one, SOAP)).text)).toBe(true);
    expect((await listTasks(project, owner)).map((t) => t.id)).toEqual([await webhookTaskId(env.TOKEN_SIGNING_KEY, source.id, "04l5g00000LqT9aAAF", 0)]);
  });

  it("answer a SOAP fault with 401 and make no task when OrganizationId is another org's", async () => {
    const { project, viewer, source } = await world();
    const res = await deliver(source.id, one.replace(/00D5g000004Xy7BEAS/g, "00D5g000009ZzZZEAS"), SOAP);
    expect(res.status).toBe(401);
    expect(res.headers.get("content-type")).toMatch(/^text\/xml/);
    expect(res.text).toContain("<faultcode>soapenv:Client</faultcode>");
    expect(res.text).toContain("<code>bad_signature</code>");
    expect(await listTasks(project, viewer)).toHaveLength(0);
  });

  it.each([
    ["truncated XML", one.slice(0, 400)],
    ["a DOCTYPE with entities", one.replace('<?xml version="1.0" encoding="UTF-8"?>', '<?xml version="1.0"?><!DOCTYPE x [<!ENTITY a "aaaa">]>')],
    ["an envelope without notifications", '<soapenv:Envelope xmlns:soapenv="http://schemas.xmlsoap.org/soap/envelope/"><soapenv:Body/></soapenv:Envelope>'],
    ["not XML at all", "OrganizationId=00D5g000004Xy7BEAS"],
  ])("answer a SOAP fault with 400 to %s", async (_name, body) => {
    const { project, viewer, source } = await world();
    const res = await deliver(source.id, body, SOAP);
    expect(res.status).toBe(400);
    expect(res.headers.get("content-type")).toMatch(/^text\/xml/);
    expect(res.text).toMatch(/<soapenv:Fault><faultcode>soapenv:Client<\/faultcode><faultstring>[^<]+<\/faultstring>/);
    expect(await listTasks(project, viewer)).toHaveLength(0);
  });

  it("answer a SOAP fault with 415 to a JSON body", async () => {
    const { source } = await world();
    const res = await deliver(source.id, "{}", { "content-type": "application/json" });
    expect(res.status).toBe(415);
    expect(res.text).toContain("<code>unsupported_media_type</code>");
  });

  it("refuse to create a salesforce source without orgId, or with a secret", async () => {
    const { project, owner } = await setup();
    const noOrg = await api("PUT", `/v1/projects/${project}/webhook-sources/sf`, { token: owner, body: { kind: "salesforce", rules: [] } });
    expect(noOrg.status).toBe(400);
    expect(noOrg.body.error.field).toBe("orgId");
    const withSecret = await api("PUT", `/v1/projects/${project}/webhook-sources/sf`, {
      token: owner,
      body: { kind: "salesforce", orgId: ORG_ID, secret: "x".repeat(20), rules: [] },
    });
    expect(withSecret.status).toBe(400);
    expect(withSecret.body.error.field).toBe("secret");
  });
});
