// A Salesforce org on loopback, answering every call jsforce 3 makes for the runner's operations:
// the OAuth2 token endpoint (refresh_token grant), /services/data versions and resources, identity,
// limits, query/queryMore, tooling query and runTestsAsynchronous, and the Metadata API over SOAP.
// Controls make deploys slow, make components or tests fail, and expire sessions mid-job.
import { randomBytes } from "node:crypto";
import type { IncomingMessage, ServerResponse } from "node:http";
import { close, listen, sendJson, type RecordedRequest } from "./http.ts";
import { API_VERSIONS, identity, limits, sfId, versions } from "./salesforce-fixtures.ts";
import type { Component } from "./metadata-package.ts";
import { createMetadataApi, type ComponentFailure, type MetadataControls, type TestFailure } from "./salesforce-metadata.ts";
import { Fault, readSoapRequest, sendSoapFault, soapEnvelope, type SoapRequest } from "./soap.ts";
import { METADATA_NS, qname } from "./xml.ts";
import { createCometd, type Cometd } from "./salesforce-cometd.ts";

export type { ComponentFailure, TestFailure };

export interface SalesforceOrgOptions {
  clientId?: string;
  /** "" for a connected app without a secret (the sf CLI's PlatformCLI). */
  clientSecret?: string;
  /** A fixed loopback port (`npm start` runs the double on one); default any free port. */
  port?: number;
}

export interface SalesforceOrgDouble {
  url: string;
  orgId: string;
  userId: string;
  username: string;
  clientId: string;
  clientSecret: string;
  refreshToken: string;
  /** `force://clientId:clientSecret:refreshToken@http://127.0.0.1:port` */
  authUrl: string;
  requests: RecordedRequest[];
  /** Access tokens issued so far. */
  issuedTokens: string[];
  controls: SalesforceControls;
  /** Deploy ids in creation order. */
  deployIds(): string[];
  /** What a deploy held, as the double read it from its zip (deleted: named in a destructive manifest); [] for an unknown id. */
  deployComponents(id: string): Component[];
  /** The Streaming API (salesforce-cometd.ts): `cometd.publish(channel, fields)` publishes a Platform Event. */
  cometd: Cometd;
  close(): Promise<void>;
}

export interface SalesforceControls extends MetadataControls {
  /** Records returned by a query FROM <sobject>. */
  records: Record<string, Array<Record<string, unknown>>>;
  /** Records per query page before nextRecordsUrl (Salesforce's default is 2000). */
  queryPageSize: number;
  /** Status checks an Apex test run stays Processing (default 1). */
  testRunPolls: number;
  /** Test methods (Class.method) that fail in runTestsAsynchronous. */
  failingTestMethods: string[];
  /** Methods each test class has (default ["testOne", "testTwo"]). */
  testMethods: string[];
  /**
   * After `calls` more successful authenticated calls, every access token issued so far stops working
   * (401 INVALID_SESSION_ID / SOAP fault). With `repeat`, tokens issued later die the same way.
   */
  expireSessionsAfter(calls: number, opts?: { repeat?: boolean }): void;
  /** Revokes the refresh token: the next refresh answers 400 invalid_grant. */
  revokeRefreshToken(): void;
}

const INVALID_SESSION_REST = [{ message: "Session expired or invalid", errorCode: "INVALID_SESSION_ID" }];
const NOT_FOUND_REST = [{ errorCode: "NOT_FOUND", message: "The requested resource does not exist" }];

interface TestRun {
  id: string;
  classes: string[];
  polls: number;
  aborted: boolean;
  /** One ApexTestQueueItem id per class. */
  items: string[];
}

export async function startSalesforceOrg(opts: SalesforceOrgOptions = {}): Promise<SalesforceOrgDouble> {
  const orgId = "00D5g000004ABCDEAA";
  const userId = "0055g00000AbCdEAAA";
  const username = "integration@acme.example.com";
  const clientId = opts.clientId ?? `3MVG9${randomBytes(30).toString("base64url")}`;
  const clientSecret = opts.clientSecret ?? randomBytes(32).toString("hex").toUpperCase();
  let refreshToken: string | null = `5Aep861${randomBytes(40).toString("base64url").replace(/[-_]/g, ".")}`;
  const originalRefreshToken = refreshToken;
  const validTokens = new Set<string>();
  const issuedTokens: string[] = [];
  let expiry: { left: number; calls: number; repeat: boolean } | null = null;
  const requests: RecordedRequest[] = [];
  const cursors = new Map<string, { records: Array<Record<string, unknown>>; offset: number }>();
  const testRuns = new Map<string, TestRun>();

  const controls: SalesforceControls = {
    deployPolls: 1,
    componentFailures: [],
    testFailures: [],
    tests: ["AccountServiceTest.testCreate", "AccountServiceTest.testUpdate", "InvoiceTest.testTotals"],
    records: {},
    queryPageSize: 2000,
    testRunPolls: 1,
    failingTestMethods: [],
    testMethods: ["testOne", "testTwo"],
    expireSessionsAfter(calls, o = {}) {
      expiry = { left: calls, calls, repeat: o.repeat ?? false };
    },
    revokeRefreshToken() {
      refreshToken = null;
    },
  };
  const metadata = createMetadataApi(controls);
  const cometd = createCometd();

  /** Checks a token and counts the call against a pending expiry. */
  const authorize = (token: string | undefined): boolean => {
    if (!token || !validTokens.has(token)) return false;
    if (expiry) {
      if (expiry.left <= 0) {
        validTokens.clear();
        expiry = expiry.repeat ? { ...expiry, left: expiry.calls } : null;
        return false;
      }
      expiry.left -= 1;
    }
    return true;
  };

  const issueToken = () => {
    const token = `${orgId.slice(0, 15)}!AQ0AQ${randomBytes(48).toString("base64url").replace(/[-_]/g, ".")}`;
    validTokens.add(token);
    issuedTokens.push(token);
    return token;
  };

  const oauthToken = (res: ServerResponse, body: string, base: string) => {
    const form = new URLSearchParams(body);
    if (form.get("grant_type") !== "refresh_token") {
      return sendJson(res, 400, { error: "unsupported_grant_type", error_description: "grant type not supported" });
    }
    if (form.get("client_id") !== clientId) return sendJson(res, 400, { error: "invalid_client_id", error_description: "client identifier invalid" });
    if (clientSecret && form.get("client_secret") !== clientSecret) {
      return sendJson(res, 400, { error: "invalid_client", error_description: "invalid client credentials" });
    }
    if (!refreshToken || form.get("refresh_token") !== refreshToken) {
      return sendJson(res, 400, { error: "invalid_grant", error_description: "expired access/refresh token" });
    }
    const accessToken = issueToken();
    return sendJson(res, 200, {
      access_token: accessToken,
      signature: randomBytes(32).toString("base64"),
      scope: "refresh_token web api",
      instance_url: base,
      id: `${base}/id/${orgId}/${userId}`,
      token_type: "Bearer",
      issued_at: String(Date.now()),
    });
  };

  const queryPage = (res: ServerResponse, records: Array<Record<string, unknown>>, offset: number, base: string) => {
    const page = records.slice(offset, offset + controls.queryPageSize);
    const next = offset + page.length;
    const done = next >= records.length;
    const body: Record<string, unknown> = { totalSize: records.length, done, records: page };
    if (!done) {
      const locator = `01g${randomBytes(6).toString("hex")}-${next}`;
      cursors.set(locator, { records, offset: next });
      body.nextRecordsUrl = `${base}/query/${locator}`;
    }
    return sendJson(res, 200, body);
  };

  const toolingQuery = (soql: string): Array<Record<string, unknown>> | null => {
    const from = /\bfrom\s+(\w+)/i.exec(soql)?.[1];
    const jobId = /AsyncApexJobId\s*=\s*'([^']+)'/i.exec(soql)?.[1];
    if (from === "ApexTestRunResult" || from === "ApexTestResult") {
      const run = jobId ? testRuns.get(jobId) : undefined;
      if (!run) return [];
      const methods = run.classes.flatMap((c) => controls.testMethods.map((m) => `${c}.${m}`));
      const failed = methods.filter((m) => controls.failingTestMethods.includes(m));
      if (from === "ApexTestRunResult") {
        run.polls += 1;
        const complete = run.polls > controls.testRunPolls;
        return [
          {
            attributes: { type: "ApexTestRunResult", url: `/services/data/v62.0/tooling/sobjects/ApexTestRunResult/${sfId("05m")}` },
            AsyncApexJobId: run.id,
            Status: run.aborted ? "Aborted" : complete ? "Completed" : run.polls === 1 ? "Queued" : "Processing",
            ClassesEnqueued: run.classes.length,
            ClassesCompleted: complete ? run.classes.length : Math.floor(run.classes.length / 2),
            MethodsEnqueued: methods.length,
            MethodsCompleted: complete ? methods.length : 0,
            MethodsFailed: complete ? failed.length : 0,
            TestTime: complete ? 2345 : null,
            StartTime: new Date().toISOString(),
            EndTime: complete ? new Date().toISOString() : null,
          },
        ];
      }
      return methods.map((m) => {
        const [cls, method] = m.split(".");
        const fail = failed.includes(m);
        return {
          attributes: { type: "ApexTestResult", url: `/services/data/v62.0/tooling/sobjects/ApexTestResult/${sfId("07M")}` },
          Id: sfId("07M"),
          ApexClass: { attributes: { type: "ApexClass" }, Name: cls },
          MethodName: method,
          Outcome: fail ? "Fail" : "Pass",
          Message: fail ? "System.AssertException: Assertion Failed: Expected: 2, Actual: 3" : null,
          StackTrace: fail ? `Class.${cls}.${method}: line 21, column 1` : null,
          RunTime: 18,
        };
      });
    }
    return from ? (controls.records[from] ?? null) : null;
  };

  const queueItems = (soql: string): Array<Record<string, unknown>> => {
    const run = testRuns.get(/ParentJobId\s*=\s*'([^']+)'/i.exec(soql)?.[1] ?? "");
    if (!run || run.aborted || run.polls > controls.testRunPolls) return [];
    return run.items.map((id, i) => ({ attributes: { type: "ApexTestQueueItem" }, Id: id, ApexClassId: `01p${i}`, Status: "Processing" }));
  };

  const rest = async (req: IncomingMessage, res: ServerResponse, body: string, u: URL, base: string) => {
    const bearer = (req.headers.authorization ?? "").replace(/^Bearer /, "");
    if (u.pathname === "/services/data" || u.pathname === "/services/data/") return sendJson(res, 200, versions(base));
    const m = /^\/services\/data\/v(\d+\.\d)(\/.*)?$/.exec(u.pathname);
    if (!m || !API_VERSIONS.includes(m[1])) return sendJson(res, 404, NOT_FOUND_REST);
    if (!authorize(bearer)) return sendJson(res, 401, INVALID_SESSION_REST);
    const vbase = `/services/data/v${m[1]}`;
    const path = (m[2] ?? "/").replace(/\/+$/, "") || "/";
    if (path === "/") {
      return sendJson(res, 200, {
        identity: `${base}/id/${orgId}/${userId}`,
        limits: `${vbase}/limits`,
        query: `${vbase}/query`,
        tooling: `${vbase}/tooling`,
        sobjects: `${vbase}/sobjects`,
      });
    }
    if (path === "/limits") return sendJson(res, 200, limits());
    const q = /^(\/tooling)?\/query(?:\/([^/]+))?$/.exec(path);
    if (q && req.method === "GET") {
      const tooling = Boolean(q[1]);
      if (q[2]) {
        const cursor = cursors.get(q[2]);
        if (!cursor) return sendJson(res, 400, [{ errorCode: "INVALID_QUERY_LOCATOR", message: "invalid query locator" }]);
        cursors.delete(q[2]);
        return queryPage(res, cursor.records, cursor.offset, `${vbase}${q[1] ?? ""}`);
      }
      const soql = u.searchParams.get("q") ?? "";
      const from = /\bfrom\s+(\w+)/i.exec(soql)?.[1];
      const records = tooling ? toolingQuery(soql) : from === "ApexTestQueueItem" ? queueItems(soql) : from ? (controls.records[from] ?? null) : null;
      if (!records) {
        return sendJson(res, 400, [
          { errorCode: "INVALID_TYPE", message: `\n${soql}\n^\nERROR at Row:1:Column:1\nsObject type '${from ?? "?"}' is not supported.` },
        ]);
      }
      return queryPage(res, records, 0, `${vbase}${q[1] ?? ""}`);
    }
    if (path === "/composite/sobjects" && req.method === "PATCH") {
      // Only what aborting a test run needs: ApexTestQueueItem Status = Aborted.
      const input = JSON.parse(body || "{}") as { records?: Array<{ attributes?: { type?: string }; id?: string; Id?: string; Status?: string }> };
      return sendJson(
        res,
        200,
        (input.records ?? []).map((r) => {
          const id = r.id ?? r.Id; // jsforce sends "id"; Salesforce takes either
          const run = [...testRuns.values()].find((t) => id !== undefined && t.items.includes(id));
          if (!run || r.attributes?.type !== "ApexTestQueueItem" || r.Status !== "Aborted") {
            return { success: false, errors: [{ statusCode: "INVALID_CROSS_REFERENCE_KEY", message: "invalid cross reference id", fields: [] }] };
          }
          run.aborted = true;
          return { id, success: true, errors: [] };
        }),
      );
    }
    if (path === "/tooling/runTestsAsynchronous" && req.method === "POST") {
      const input = JSON.parse(body || "{}") as { classNames?: string; suiteNames?: string; tests?: Array<{ className: string }>; testLevel?: string };
      const classes = [
        ...(input.classNames ? input.classNames.split(",").map((s) => s.trim()) : []),
        ...(input.tests ?? []).map((t) => t.className),
        ...(input.suiteNames ? ["SuiteMemberTest"] : []),
      ];
      const runAll = input.testLevel === "RunLocalTests" || input.testLevel === "RunAllTestsInOrg";
      const runClasses = runAll ? ["AccountServiceTest", "InvoiceTest"] : classes;
      const run: TestRun = { id: sfId("707"), classes: runClasses, polls: 0, aborted: false, items: runClasses.map(() => sfId("709")) };
      if (!run.classes.length) return sendJson(res, 400, [{ errorCode: "INVALID_INPUT", message: "No tests found" }]);
      testRuns.set(run.id, run);
      return sendJson(res, 200, run.id);
    }
    return sendJson(res, 404, NOT_FOUND_REST);
  };

  const { server, url } = await listen(
    async (req, res, body) => {
      const u = new URL(req.url ?? "/", "http://double");
      const base = url;
      if (req.method === "POST" && u.pathname === "/services/oauth2/token") return oauthToken(res, body, base);
      if (req.method === "GET" && u.pathname === `/id/${orgId}/${userId}`) {
        const token = u.searchParams.get("oauth_token") ?? (req.headers.authorization ?? "").replace(/^Bearer /, "");
        if (!authorize(token)) {
          res.writeHead(403, { "content-type": "text/plain" });
          return res.end("Bad_OAuth_Token");
        }
        return sendJson(res, 200, identity(base, orgId, userId, username));
      }
      const streaming = /^\/cometd\/(\d+\.\d)\/?$/.exec(u.pathname);
      if (streaming) {
        if (!API_VERSIONS.includes(streaming[1])) return sendJson(res, 404, NOT_FOUND_REST);
        return cometd.handle(req, res, body, authorize);
      }
      const soap = /^\/services\/Soap\/m\/(\d+\.\d)$/.exec(u.pathname);
      if (soap && req.method === "POST") {
        if (!API_VERSIONS.includes(soap[1])) return sendSoapFault(res, "sf:UNSUPPORTED_API_VERSION", `UNSUPPORTED_API_VERSION: ${soap[1]}`);
        let request: SoapRequest;
        try {
          request = readSoapRequest(body);
        } catch (err) {
          if (err instanceof Fault) return sendSoapFault(res, err.faultcode, err.faultstring);
          throw err;
        }
        if (request.call.ns !== METADATA_NS) {
          return sendSoapFault(res, "soapenv:Client", `No operation available for request ${qname(request.call)}, please check the WSDL for the service.`);
        }
        // Salesforce reads the session from the SOAP header's SessionHeader only.
        if (!authorize(request.sessionId)) {
          return sendSoapFault(
            res,
            "sf:INVALID_SESSION_ID",
            "INVALID_SESSION_ID: Invalid Session ID found in SessionHeader: Illegal Session. Session not found, missing session hash",
          );
        }
        const answer = metadata.invoke(request.call);
        if (!answer.ok) return sendSoapFault(res, answer.faultcode, answer.faultstring);
        res.writeHead(200, { "content-type": "text/xml;charset=UTF-8" });
        return res.end(soapEnvelope(answer.xml));
      }
      return rest(req, res, body, u, base);
    },
    requests,
    opts.port,
  );

  const hostPart = url;
  return {
    url,
    orgId,
    userId,
    username,
    clientId,
    clientSecret,
    refreshToken: originalRefreshToken,
    authUrl: `force://${clientId}:${clientSecret}:${originalRefreshToken}@${hostPart}`,
    requests,
    issuedTokens,
    controls,
    deployIds: () => [...metadata.deploys.keys()],
    deployComponents: (id) => [...(metadata.deploys.get(id)?.components ?? [])],
    cometd,
    close: () => {
      cometd.close();
      return close(server);
    },
  };
}
