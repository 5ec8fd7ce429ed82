// The pure parts of webhook ingestion, inside workerd: body limits, rule matching and templates,
// the XML reader and the Salesforce envelope extractor, and source-id tags.
import { describe, expect, it } from "vitest";
import { ApiError } from "../../protocol/errors.ts";
import { readLimitedBody, decodeUtf8 } from "../../edge/webhooks/body.ts";
import { getPath, globMatch, renderPayload, ruleMatches } from "../../edge/webhooks/rules.ts";
import { parseOutboundMessage } from "../../edge/webhooks/salesforce.ts";
import { isGenuineSourceId, mintSourceId } from "../../common/source-ids.ts";
import { parseXml, XmlError } from "../../edge/webhooks/xml.ts";
import { projectOfSource } from "../../protocol/webhook.ts";
import type { WebhookRule } from "../../protocol/webhook.ts";
import oneNotification from "../fixtures/webhooks/salesforce-one-notification.xml?raw";
import threeNotifications from "../fixtures/webhooks/salesforce-three-notifications.xml?raw";

async function codeOf(p: Promise<unknown>): Promise<string> {
  try {
    await p;
    return "ok";
  } catch (err) {
    return err instanceof ApiError ? err.code : `unexpected ${String(err)}`;
  }
}

/** A body of these chunk sizes; `pulled()` says how many chunks the reader asked for. */
function streamOf(chunks: number[]): { stream: ReadableStream<Uint8Array>; pulled: () => number } {
  let i = 0;
  const stream = new ReadableStream<Uint8Array>(
    {
      pull(controller) {
        if (i < chunks.length) controller.enqueue(new Uint8Array(chunks[i++]));
        else controller.close();
      },
    },
    // Nothing is pulled ahead of the reader, so the count is what the reader consumed.
    { highWaterMark: 0 },
  );
  return { stream, pulled: () => i };
}

describe("reading a body with a 1 MiB limit", () => {
  it("refuses a declared Content-Length over the limit without reading the body", async () => {
    let pulled = 0;
    const body = new ReadableStream<Uint8Array>({
      pull(controller) {
        pulled++;
        controller.enqueue(new Uint8Array(1024));
      },
    });
    const req = new Request("https://x/", { method: "POST", body, headers: { "content-length": String(2 * 1024 * 1024) }, duplex: "half" } as RequestInit);
    expect(await codeOf(readLimitedBody(req))).toBe("too_large");
    expect(pulled).toBeLessThanOrEqual(1);
  });

  it("stops reading a chunked body the moment it passes the limit", async () => {
    const body = streamOf(Array.from({ length: 64 }, () => 64 * 1024)); // 4 MiB in 64 KiB chunks
    const req = new Request("https://x/", { method: "POST", body: body.stream, duplex: "half" } as RequestInit);
    expect(await codeOf(readLimitedBody(req, 1024 * 1024))).toBe("too_large");
    // 16 chunks make the 1 MiB limit exactly; the 17th passes it (one more may be in flight).
    expect(body.pulled()).toBeGreaterThanOrEqual(17);
    expect(body.pulled()).toBeLessThanOrEqual(18);
  });

  it("reads a body of exactly the limit", async () => {
    const req = new Request("https://x/", { method: "POST", body: new Uint8Array(1024 * 1024) });
    expect((await readLimitedBody(req)).byteLength).toBe(1024 * 1024);
  });

  it("answers 400 to a Content-Length that is not a number", async () => {
    const req = new Request("https://x/", { method: "POST", body: "{}", headers: { "content-length": "12abc" } });
    expect(await codeOf(readLimitedBody(req))).toBe("invalid_request");
  });

  it("refuses invalid UTF-8 instead of replacing it", () => {
    expect(() => decodeUtf8(new Uint8Array([0x7b, 0xff, 0xfe, 0x7d]))).toThrow(ApiError);
  });
});

describe("rules", () => {
  const payload = {
    ref: "refs/heads/release/2025.02",
    pull_request: { base: { ref: "main" }, draft: false, number: 42, labels: [{ name: "deploy:uat" }] },
    repository: { full_name: "acme-dx/salesforce-app" },
  };
  const rule = (on: string, cond?: Record<string, string>): WebhookRule => ({ on, ...(cond ? { if: cond } : {}), task: { type: "deploy", org: "demo" } });

  it("matches an event by name, by its family, and by glob", () => {
    expect(ruleMatches(rule("pull_request.opened"), "pull_request.opened", payload)).toBe(true);
    expect(ruleMatches(rule("pull_request"), "pull_request.opened", payload)).toBe(true);
    expect(ruleMatches(rule("pull_request.*"), "pull_request.synchronize", payload)).toBe(true);
    expect(ruleMatches(rule("pull_request.closed"), "pull_request.opened", payload)).toBe(false);
    expect(ruleMatches(rule("push"), "pull_request.opened", payload)).toBe(false);
  });

  it("requires every if-condition, exact or glob, on dot paths including array indexes", () => {
    expect(ruleMatches(rule("pull_request", { "pull_request.base.ref": "main" }), "pull_request.opened", payload)).toBe(true);
    expect(ruleMatches(rule("pull_request", { "pull_request.base.ref": "develop" }), "pull_request.opened", payload)).toBe(false);
    expect(ruleMatches(rule("push", { ref: "refs/heads/release/*" }), "push", payload)).toBe(true);
    expect(ruleMatches(rule("push", { ref: "refs/heads/release/*", "repository.full_name": "acme-dx/*" }), "push", payload)).toBe(true);
    expect(ruleMatches(rule("pull_request", { "pull_request.labels.0.name": "deploy:*" }), "pull_request.opened", payload)).toBe(true);
    expect(ruleMatches(rule("pull_request", { "pull_request.draft": "false", "pull_request.number": "42" }), "pull_request.opened", payload)).toBe(true);
    expect(ruleMatches(rule("pull_request", { "pull_request.missing": "*" }), "pull_request.opened", payload)).toBe(false);
    expect(ruleMatches(rule("pull_request", { "pull_request.base": "*" }), "pull_request.opened", payload)).toBe(false);
  });

  it("never follows inherited properties such as __proto__ or constructor", () => {
    expect(getPath({}, "constructor")).toBeUndefined();
    expect(getPath({}, "__proto__")).toBeUndefined();
    expect(getPath({ a: [1, 2] }, "a.length")).toBeUndefined();
  });

  it("globs without catastrophic backtracking", () => {
    expect(globMatch("*a*a*a*a*a*a*b", "a".repeat(5000))).toBe(false);
    expect(globMatch("refs/*/main", "refs/heads/main")).toBe(true);
    expect(globMatch("*", "")).toBe(true);
    expect(globMatch("a*", "b")).toBe(false);
  });

  it("renders {{dot.path}} inside strings as text and whole-string templates as the value itself", () => {
    const out = renderPayload(
      {
        zipUrl: "https://ci.example/{{repository.full_name}}/{{pull_request.number}}.zip",
        pr: "{{pull_request.number}}",
        base: "{{ pull_request.base }}",
        nested: ["{{missing}}", "x{{missing}}y"],
      },
      payload,
    );
    expect(out).toEqual({ zipUrl: "https://ci.example/acme-dx%2Fsalesforce-app/42.zip", pr: 42, base: { ref: "main" }, nested: [null, "xy"] });
  });

  it("refuses a rendered payload nested deeper than 64 levels, however deep the delivery", () => {
    const deep = JSON.parse("[".repeat(100_000) + "]".repeat(100_000));
    expect(() => renderPayload({ copy: "{{deep}}" }, { deep })).toThrow(ApiError);
    expect(() => renderPayload({ copy: "x{{deep}}" }, { deep })).toThrow(ApiError);
    expect(renderPayload({ copy: "{{deep.0.0}}" }, { deep: [[["ok"]]] })).toEqual({ copy: ["ok"] });
  });

  it("refuses a rendered payload over 256 KiB", () => {
    expect(() => renderPayload({ big: "{{blob}}" }, { blob: "x".repeat(300_000) })).toThrow(ApiError);
  });
});

describe("the XML reader", () => {
  it("reads elements, attributes, entities, CDATA and comments", () => {
    const root = parseXml('<?xml version="1.0"?><!-- hi --><a x="1 &amp; 2"><b>&lt;&#65;&#x42;&gt;</b><c><![CDATA[<raw>]]></c><d/></a>');
    expect(root.local).toBe("a");
    expect(root.attrs.x).toBe("1 & 2");
    expect(root.children.map((c) => [c.local, c.text])).toEqual([
      ["b", "<AB>"],
      ["c", "<raw>"],
      ["d", ""],
    ]);
  });

  it.each([
    ['<!DOCTYPE a [<!ENTITY x "y">]><a>&x;</a>', "DOCTYPE", /^DOCTYPE and entity declarations are not accepted$/],
    ["<a>&x;</a>", "undefined entity", /^an undefined entity &x;$/],
    ["<a><?php evil ?></a>", "processing instruction", /^processing instructions are not accepted$/],
    ["<a><b></a></b>", "mismatched tags", /^an end tag <\/a> that closes nothing open$/],
    ["<a>", "unclosed root", /^<a> is never closed$/],
    ["<a/><b/>", "two roots", /^more than one root element$/],
    ["text<a/>", "text outside the root", /^text outside the root element$/],
    ["<a>&#0;</a>", "a reference to NUL", /^a character reference to an invalid character \(0\)$/],
    ['<a x="1" x="2"/>', "a repeated attribute", /^a repeated attribute x$/],
    ["<a>&amp</a>", "an unterminated reference", /^a bare '&' in character data$/],
    ["", "nothing at all", /^no root element$/],
  ])("refuses %s (%s) with an XmlError naming the fault", (xml, _, message) => {
    // The reader's own refusal, not a crash (a TypeError or RangeError would also "throw").
    expect(() => parseXml(xml)).toThrow(XmlError);
    expect(() => parseXml(xml)).toThrow(message);
  });

  it("refuses nesting past its depth limit without recursion", () => {
    const deep = "<a>".repeat(100_000) + "</a>".repeat(100_000);
    expect(() => parseXml(deep)).toThrow(/deeply/);
  });

  it("keeps an attribute called __proto__ as a plain key", () => {
    const root = parseXml('<a __proto__="x"/>');
    expect(Object.getPrototypeOf(root.attrs)).toBe(Object.prototype);
    expect(Object.hasOwn(root.attrs, "__proto__")).toBe(true);
  });
});

describe("the Salesforce outbound message extractor", () => {
  it("extracts the org, each Notification's id, its sObject type and fields, and drops the SessionId", () => {
    const msg = parseOutboundMessage(oneNotification);
    expect(msg.organizationId).toBe("00D5g000004Xy7BEAS");
    expect(msg.items).toHaveLength(1);
    const [item] = msg.items;
    expect(item.deliveryId).toBe("04l5g00000LqT9aAAF");
    expect(item.event).toBe("Opportunity");
    expect(item.payload).toMatchObject({
      organizationId: "00D5g000004Xy7BEAS",
      notificationId: "04l5g00000LqT9aAAF",
      sObjectType: "Opportunity",
      sObject: { Id: "0065g00000ZkQ2NAAV", Name: "Globex & Sons — renewal 2025", StageName: "Closed Won", Description: null },
    });
    expect(JSON.stringify(item.payload)).not.toContain("never_leak");
  });

  it("gives one item per Notification", () => {
    const msg = parseOutboundMessage(threeNotifications);
    expect(msg.items.map((i) => i.deliveryId)).toEqual(["04l5g00000LqTA1AAN", "04l5g00000LqTA2AAN", "04l5g00000LqTA3AAN"]);
    expect(msg.items.every((i) => i.event === "Release__c")).toBe(true);
  });

  it.each([
    ["<a/>", "not an envelope"],
    [oneNotification.replace("<OrganizationId>00D5g000004Xy7BEAS</OrganizationId>", ""), "no OrganizationId"],
    [oneNotification.replace("<Id>04l5g00000LqT9aAAF</Id>", ""), "a Notification without Id"],
    [oneNotification.replace(' xsi:type="sf:Opportunity"', ""), "an sObject without type"],
    [oneNotification.replace("</soapenv:Body>", ""), "malformed XML"],
  ])("answers 400 to an envelope with %#: %s", (xml) => {
    expect(() => parseOutboundMessage(xml)).toThrow(ApiError);
  });
});

describe("source ids", () => {
  const KEY = "test-token-signing-key-0123456789abcdef";
  it("embed the project and carry a tag only this deployment's key can make", async () => {
    const project = "prj_01JKQ4X0M3ABCDEFGHJKMNPQRS";
    const id = await mintSourceId(KEY, project);
    expect(id).toMatch(/^whs_[0-9A-Z]{52}$/);
    expect(projectOfSource(id)).toBe(project);
    expect(await isGenuineSourceId(KEY, id)).toBe(true);
    expect(await isGenuineSourceId("another-key-0123456789abcdef", id)).toBe(false);
    const forged = id.slice(0, -1) + (id.endsWith("0") ? "1" : "0");
    expect(await isGenuineSourceId(KEY, forged)).toBe(false);
    expect(await isGenuineSourceId(KEY, "whs_nope")).toBe(false);
  });
});
