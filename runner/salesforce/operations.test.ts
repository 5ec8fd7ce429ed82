import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { metadataZip } from "../../test/doubles/salesforce-fixtures.ts";
import { startSalesforceOrg, type SalesforceOrgDouble } from "../../test/doubles/salesforce-org.ts";
import { parseSfdxAuthUrl } from "../credentials/auth-url.ts";
import { connectOrg, SessionError } from "./connect.ts";
import { runOperation } from "./index.ts";
import { operationHarness } from "./testing.ts";

const accounts = (n: number) =>
  Array.from({ length: n }, (_, i) => ({
    attributes: { type: "Account", url: `/services/data/v62.0/sobjects/Account/001${i}` },
    Id: `001${String(i).padStart(15, "0")}`,
    Name: `Account ${i}`,
  }));

describe("retrieve, run-tests, query and org-check against the Salesforce double (real jsforce)", () => {
  let org: SalesforceOrgDouble;
  beforeAll(async () => {
    org = await startSalesforceOrg();
  });
  afterAll(() => org.close());
  beforeEach(() => {
    org.controls.deployPolls = 2;
    org.controls.failingTestMethods = [];
    org.controls.queryPageSize = 2000;
  });

  it("retrieves unpackaged metadata and returns the zip with its file list", async () => {
    const h = await operationHarness(org);
    const out = await runOperation("retrieve", { unpackaged: { types: [{ name: "ApexClass", members: ["AccountService", "InvoiceService"] }] } }, h.ctx);
    expect(out.outcome).toBe("succeeded");
    const result = out.result as { files: Array<{ fileName: string; type: string }>; zipBase64: string; zipBytes: number };
    expect(result.files.map((f) => f.fileName).sort()).toEqual([
      "unpackaged/classes/AccountService.cls",
      "unpackaged/classes/InvoiceService.cls",
      "unpackaged/package.xml",
    ]);
    expect(Buffer.from(result.zipBase64, "base64").subarray(0, 2).toString()).toBe("PK");
    expect(result.zipBytes).toBeGreaterThan(0);
    const req = org.requests.find((r) => r.body.includes("<retrieve>"))?.body;
    expect(req).toContain("<types><members>AccountService</members><members>InvoiceService</members><name>ApexClass</name></types>");
    expect(h.progress.at(-1)).toMatchObject({ percent: 100, step: "Succeeded" });
  });

  it("rejects a retrieve that names nothing", async () => {
    const out = await runOperation("retrieve", {}, (await operationHarness(org)).ctx);
    expect(out.error).toMatchObject({ code: "invalid_payload", message: expect.stringContaining("payload.unpackaged") });
  });

  it("runs Apex tests through runTestsAsynchronous and reports success", async () => {
    const h = await operationHarness(org);
    const out = await runOperation("run-tests", { classNames: ["AccountServiceTest", "InvoiceTest"] }, h.ctx);
    expect(out.outcome).toBe("succeeded");
    expect(out.result).toMatchObject({ status: "Completed", numTestsRun: 4, numFailures: 0 });
    const start = org.requests.find((r) => r.url.includes("/tooling/runTestsAsynchronous"));
    expect(JSON.parse(start?.body ?? "{}")).toEqual({ testLevel: "RunSpecifiedTests", classNames: "AccountServiceTest,InvoiceTest" });
    expect(h.progress.at(-1)).toMatchObject({ percent: 100, step: "Completed" });
  });

  it("fails run-tests with tests_failed and the failing methods in the result", async () => {
    org.controls.failingTestMethods = ["InvoiceTest.testTwo"];
    const out = await runOperation("run-tests", { classNames: ["AccountServiceTest", "InvoiceTest"] }, (await operationHarness(org)).ctx);
    expect(out.outcome).toBe("failed");
    expect(out.error).toEqual({ code: "tests_failed", message: "1 of 4 test(s) failed" });
    expect(out.result).toMatchObject({
      numFailures: 1,
      failures: [
        {
          name: "InvoiceTest",
          methodName: "testTwo",
          outcome: "Fail",
          message: expect.stringContaining("AssertException"),
          stackTrace: expect.stringContaining("line 21"),
        },
      ],
    });
  });

  it("cancels a test run by aborting its queued classes", async () => {
    org.controls.testRunPolls = 100_000;
    const cancel = new AbortController();
    const h = await operationHarness(org);
    const running = runOperation("run-tests", { classNames: ["AccountServiceTest", "InvoiceTest"] }, { ...h.ctx, signal: cancel.signal });
    while (!h.progress.some((p) => p.step === "Processing")) await new Promise((r) => setTimeout(r, 5));
    cancel.abort();
    const out = await running;
    org.controls.testRunPolls = 1;
    expect(out.outcome).toBe("canceled");
    expect(out.result).toMatchObject({ abortedClasses: 2 });
    const patch = org.requests.find((r) => r.method === "PATCH" && r.url.endsWith("/composite/sobjects"));
    expect(JSON.parse(patch?.body ?? "{}").records).toHaveLength(2);
  });

  it("queries with queryMore along nextRecordsUrl until done", async () => {
    org.controls.records.Account = accounts(25);
    org.controls.queryPageSize = 10;
    const h = await operationHarness(org);
    const out = await runOperation("query", { soql: "SELECT Id, Name FROM Account" }, h.ctx);
    expect(out.outcome).toBe("succeeded");
    const result = out.result as { totalSize: number; pages: number; records: Array<{ Name: string }>; truncated: boolean };
    expect(result).toMatchObject({ totalSize: 25, pages: 3, truncated: false });
    expect(result.records.map((r) => r.Name)).toEqual(accounts(25).map((a) => a.Name));
    expect(org.requests.filter((r) => /\/services\/data\/v62\.0\/query\/01g/.test(r.url))).toHaveLength(2);
  });

  it("stops at maxRecords and says the result was truncated", async () => {
    org.controls.records.Account = accounts(25);
    org.controls.queryPageSize = 10;
    const out = await runOperation("query", { soql: "SELECT Id FROM Account", maxRecords: 12 }, (await operationHarness(org)).ctx);
    expect(out.result).toMatchObject({ totalSize: 25, truncated: true, done: false });
    expect((out.result as { records: unknown[] }).records).toHaveLength(12);
  });

  it("queries the Tooling API when asked", async () => {
    org.controls.records.ApexClass = [{ attributes: { type: "ApexClass" }, Id: "01p000000000001AAA", Name: "AccountService" }];
    const out = await runOperation("query", { soql: "SELECT Id, Name FROM ApexClass", tooling: true }, (await operationHarness(org)).ctx);
    expect(out.outcome).toBe("succeeded");
    expect(org.requests.some((r) => r.url.startsWith("/services/data/v62.0/tooling/query?q=SELECT"))).toBe(true);
  });

  it("fails a query of an unknown object with Salesforce's error code", async () => {
    const out = await runOperation("query", { soql: "SELECT Id FROM Nope__c" }, (await operationHarness(org)).ctx);
    expect(out.outcome).toBe("failed");
    expect(out.error).toMatchObject({ code: "salesforce_error", message: expect.stringContaining("INVALID_TYPE") });
  });

  it("checks the org: identity, API versions and limits", async () => {
    const out = await runOperation("org-check", { limits: ["DailyApiRequests"] }, (await operationHarness(org)).ctx);
    expect(out.outcome).toBe("succeeded");
    expect(out.result).toEqual({
      organizationId: org.orgId,
      userId: org.userId,
      username: org.username,
      displayName: "Integration User",
      instanceUrl: org.url,
      apiVersion: "62.0",
      latestApiVersion: "64.0",
      limits: { DailyApiRequests: { max: 15000, remaining: 14873 } },
    });
  });
});

describe("sessions", () => {
  let org: SalesforceOrgDouble;
  beforeAll(async () => {
    org = await startSalesforceOrg({ clientId: "PlatformCLI", clientSecret: "" });
  });
  afterAll(() => org.close());

  it("uses the refresh-token grant with the client id, and no secret for a secret-less app", async () => {
    await operationHarness(org);
    const grant = new URLSearchParams(org.requests.find((r) => r.url === "/services/oauth2/token")?.body);
    expect(Object.fromEntries(grant)).toEqual({ grant_type: "refresh_token", refresh_token: org.refreshToken, client_id: "PlatformCLI" });
  });

  it("refreshes once when the session expires mid-deploy, and the deploy goes on", async () => {
    org.controls.deployPolls = 6;
    let refreshed = 0;
    const h = await operationHarness(org, () => refreshed++);
    org.controls.expireSessionsAfter(3);
    const zip = metadataZip().toString("base64");
    const out = await runOperation("deploy", { zipBase64: zip }, h.ctx);
    expect(out.outcome).toBe("succeeded");
    expect(refreshed).toBe(1);
    expect(h.session.refreshes()).toBe(1);
    expect(h.tokens).toHaveLength(2);
    const faults = org.requests.filter((r) => r.url.startsWith("/services/Soap/m/") && r.body.includes(h.tokens[0]));
    expect(faults.length).toBeGreaterThan(3); // the rejected call was retried with the new token
  });

  it("fails with session_expired when the refreshed session is rejected too", async () => {
    const h = await operationHarness(org);
    org.controls.records.Account = accounts(30);
    org.controls.queryPageSize = 1;
    org.controls.expireSessionsAfter(2, { repeat: true });
    const out = await runOperation("query", { soql: "SELECT Id FROM Account" }, h.ctx);
    org.controls.expireSessionsAfter(Number.MAX_SAFE_INTEGER);
    expect(out.outcome).toBe("failed");
    expect(out.error?.code).toBe("session_expired");
    expect(h.session.refreshes()).toBe(1);
  });

  it("refuses to connect with a revoked refresh token (auth_failed, invalid_grant)", async () => {
    org.controls.revokeRefreshToken();
    const err = await connectOrg(parseSfdxAuthUrl(org.authUrl), { onAccessToken: () => {} }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(SessionError);
    expect((err as SessionError).code).toBe("auth_failed");
    expect((err as SessionError).message).toContain("invalid_grant");
    expect((err as SessionError).message).not.toContain(org.refreshToken);
  });
});
