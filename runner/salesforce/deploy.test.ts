import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { packageXml } from "../../test/doubles/metadata-package.ts";
import { componentFiles, makeZip, metadataFiles, metadataZip } from "../../test/doubles/salesforce-fixtures.ts";
import { startSalesforceOrg, type SalesforceOrgDouble } from "../../test/doubles/salesforce-org.ts";
import { runOperation } from "./index.ts";
import { operationHarness } from "./testing.ts";

// Two classes, a custom object and its layout, with their package.xml: four components.
const ZIP = metadataZip().toString("base64");

describe("deploy, validate and quick-deploy against the Salesforce double (real jsforce)", () => {
  let org: SalesforceOrgDouble;
  beforeAll(async () => {
    org = await startSalesforceOrg();
  });
  afterAll(() => org.close());
  beforeEach(() => {
    org.controls.deployPolls = 2;
    org.controls.componentFailures = [];
    org.controls.testFailures = [];
  });

  it("deploys a zip and reports progress up to 100%", async () => {
    const h = await operationHarness(org);
    const out = await runOperation("deploy", { zipBase64: ZIP }, h.ctx);
    expect(out.outcome).toBe("succeeded");
    expect(out.result).toMatchObject({
      status: "Succeeded",
      success: true,
      checkOnly: false,
      numberComponentsDeployed: 4,
      numberComponentsTotal: 4,
      componentFailures: [],
    });
    const percents = h.progress.map((p) => p.percent ?? 0);
    expect(percents.at(-1)).toBe(100);
    expect(percents).toEqual([...percents].sort((a, b) => a - b));
    expect(h.progress.some((p) => p.step === "InProgress")).toBe(true);
    expect(h.logs.some((l) => /deploy 0Af\w+ Succeeded/.test(l))).toBe(true);
  });

  it("sends the zip and deploy options as Metadata API SOAP", async () => {
    const h = await operationHarness(org);
    await runOperation("deploy", { zipBase64: ZIP, testLevel: "RunSpecifiedTests", runTests: ["A", "B"], ignoreWarnings: true }, h.ctx);
    const soap = org.requests.filter((r) => r.url.startsWith("/services/Soap/m/")).map((r) => r.body);
    const deploy = soap.filter((b) => b.includes("<deploy>")).at(-1);
    expect(deploy).toContain(`<ZipFile>${ZIP}</ZipFile>`);
    expect(deploy).toContain(
      "<DeployOptions><checkOnly>false</checkOnly><ignoreWarnings>true</ignoreWarnings><runTests>A</runTests><runTests>B</runTests><testLevel>RunSpecifiedTests</testLevel></DeployOptions>",
    );
    expect(soap.some((b) => b.includes("<checkDeployStatus>") && b.includes("<includeDetails>true</includeDetails>"))).toBe(true);
  });

  it("fails with deploy_failed and every component failure in the result", async () => {
    org.controls.componentFailures = [
      {
        componentType: "ApexClass",
        fullName: "AccountService",
        fileName: "classes/AccountService.cls",
        problem: "Variable does not exist: acct",
        lineNumber: 14,
        columnNumber: 9,
      },
      { componentType: "CustomObject", fullName: "Invoice__c", fileName: "objects/Invoice__c.object", problem: "Field Total__c does not exist" },
    ];
    const h = await operationHarness(org);
    const out = await runOperation("deploy", { zipBase64: ZIP }, h.ctx);
    expect(out.outcome).toBe("failed");
    expect(out.error).toEqual({ code: "deploy_failed", message: expect.stringMatching(/Failed: 2 component failure\(s\)/) });
    expect(out.result).toMatchObject({
      status: "Failed",
      numberComponentErrors: 2,
      componentFailures: [
        { componentType: "ApexClass", fullName: "AccountService", problem: "Variable does not exist: acct", lineNumber: 14, columnNumber: 9 },
        { componentType: "CustomObject", fullName: "Invoice__c", problem: "Field Total__c does not exist" },
      ],
    });
    expect(h.logs).toContain("component failure ApexClass AccountService (classes/AccountService.cls:14): Variable does not exist: acct");
  });

  it("validates with tests (check-only, RunLocalTests by default) and reports test failures as tests_failed", async () => {
    org.controls.testFailures = [{ name: "AccountServiceTest", methodName: "testUpdate", message: "System.AssertException: Assertion Failed" }];
    const h = await operationHarness(org);
    const out = await runOperation("validate", { zipBase64: ZIP }, h.ctx);
    expect(out.outcome).toBe("failed");
    expect(out.error?.code).toBe("tests_failed");
    expect(out.result).toMatchObject({
      checkOnly: true,
      numberTestsTotal: 3,
      numberTestErrors: 1,
      testFailures: [{ name: "AccountServiceTest", methodName: "testUpdate", message: "System.AssertException: Assertion Failed" }],
    });
    const deploy = org.requests
      .map((r) => r.body)
      .filter((b) => b.includes("<deploy>"))
      .at(-1);
    expect(deploy).toContain("<checkOnly>true</checkOnly>");
    expect(deploy).toContain("<testLevel>RunLocalTests</testLevel>");
    expect(h.progress.some((p) => /tests/.test(p.message ?? ""))).toBe(true);
  });

  it("follows a slow deploy through many polls", async () => {
    org.controls.deployPolls = 12;
    const h = await operationHarness(org);
    const out = await runOperation("deploy", { zipBase64: ZIP }, h.ctx);
    expect(out.outcome).toBe("succeeded");
    const id = (out.result as { id: string }).id;
    const checks = org.requests.filter((r) => r.body.includes("<checkDeployStatus>") && r.body.includes(id));
    expect(checks).toHaveLength(13);
    expect(new Set(h.progress.map((p) => p.percent)).size).toBeGreaterThan(3);
  });

  it("cancels a running deploy with cancelDeploy and reports canceled", async () => {
    org.controls.deployPolls = 1000;
    const h = await operationHarness(org);
    const before = org.deployIds().length;
    const running = runOperation("deploy", { zipBase64: ZIP }, h.ctx);
    // This deploy's own status checks (earlier tests' checks do not count): it is running.
    const checksOfThis = () => {
      const id = org.deployIds()[before];
      return id ? org.requests.filter((r) => r.body.includes("<checkDeployStatus>") && r.body.includes(id)).length : 0;
    };
    await vi_waitFor(() => checksOfThis() >= 2);
    h.cancel.abort();
    const out = await running;
    expect(out.outcome).toBe("canceled");
    expect(out.result).toMatchObject({ status: "Canceled" });
    expect(org.requests.some((r) => r.body.includes("<cancelDeploy>"))).toBe(true);
  });

  it("quick-deploys a successful validation by its id", async () => {
    const h = await operationHarness(org);
    const validation = await runOperation("validate", { zipBase64: ZIP, testLevel: "RunLocalTests" }, h.ctx);
    expect(validation.outcome).toBe("succeeded");
    const validationId = (validation.result as { id: string }).id;
    const out = await runOperation("quick-deploy", { validationId }, (await operationHarness(org)).ctx);
    expect(out.outcome).toBe("succeeded");
    expect((out.result as { id: string }).id).not.toBe(validationId);
    expect(org.requests.some((r) => r.body.includes(`<deployRecentValidation><validationId>${validationId}</validationId>`))).toBe(true);
  });

  it("fails a quick-deploy of an unknown validation with the Salesforce error", async () => {
    const out = await runOperation("quick-deploy", { validationId: "0Af5g00000XXXXXAAA" }, (await operationHarness(org)).ctx);
    expect(out.outcome).toBe("failed");
    expect(out.error).toEqual({ code: "salesforce_error", message: expect.stringContaining("INVALID_CROSS_REFERENCE_KEY") });
  });

  it("fetches the zip from zipUrl when the payload gives one", async () => {
    const { createServer } = await import("node:http");
    const srv = createServer((_req, res) => res.end(Buffer.from(ZIP, "base64")));
    await new Promise<void>((r) => srv.listen(0, "127.0.0.1", r));
    const port = (srv.address() as { port: number }).port;
    try {
      const out = await runOperation("deploy", { zipUrl: `http://127.0.0.1:${port}/build/42.zip?sig=abc` }, (await operationHarness(org)).ctx);
      expect(out.outcome).toBe("succeeded");
      expect(
        org.requests
          .map((r) => r.body)
          .filter((b) => b.includes("<deploy>"))
          .at(-1),
      ).toContain(`<ZipFile>${ZIP}</ZipFile>`);
      const bad = await runOperation("deploy", { zipUrl: `http://127.0.0.1:${port}/x.zip`.replace(String(port), "1") }, (await operationHarness(org)).ctx);
      expect(bad.error?.code).toBe("zip_unavailable");
    } finally {
      srv.closeAllConnections();
      srv.close();
    }
  });

  it.each([
    ["no zip at all", {}],
    ["both zip sources", { zipBase64: ZIP, zipUrl: "https://x.example.com/a.zip" }],
    ["RunSpecifiedTests without tests", { zipBase64: ZIP, testLevel: "RunSpecifiedTests" }],
    ["an unknown option", { zipBase64: ZIP, bogus: true }],
  ])("rejects a payload with %s as invalid_payload", async (_, payload) => {
    const out = await runOperation("deploy", payload, (await operationHarness(org)).ctx);
    expect(out.outcome).toBe("failed");
    expect(out.error?.code).toBe("invalid_payload");
  });
});

describe("the Salesforce double opens the zip as Salesforce does", () => {
  let org: SalesforceOrgDouble;
  beforeAll(async () => {
    org = await startSalesforceOrg();
  });
  afterAll(() => org.close());
  beforeEach(() => {
    org.controls.deployPolls = 1;
    org.controls.componentFailures = [];
    org.controls.testFailures = [];
  });

  const deploy = async (zip: Buffer, options: Record<string, unknown> = {}) =>
    runOperation("deploy", { zipBase64: zip.toString("base64"), ...options }, (await operationHarness(org)).ctx);
  const failuresOf = (out: { result?: unknown }) => (out.result as { componentFailures: Array<Record<string, unknown>> }).componentFailures;

  it("counts the components the zip holds, at the root or in one folder, stored or deflated", async () => {
    const two = [
      { componentType: "ApexClass", fullName: "InvoiceService" },
      { componentType: "ApexTrigger", fullName: "InvoiceTrigger" },
    ];
    for (const zip of [metadataZip(two), metadataZip(two, { folder: "unpackaged" }), metadataZip(two, { deflate: true })]) {
      const out = await deploy(zip);
      expect(out.outcome).toBe("succeeded");
      expect(out.result).toMatchObject({ numberComponentsTotal: 2, numberComponentsDeployed: 2, numberComponentErrors: 0 });
    }
    const six = await deploy(
      metadataZip([
        ...two,
        { componentType: "CustomObject", fullName: "Invoice__c" },
        { componentType: "Layout", fullName: "Invoice__c-Invoice Layout" },
        { componentType: "PermissionSet", fullName: "Invoicing" },
        { componentType: "LightningComponentBundle", fullName: "invoiceList" },
      ]),
    );
    expect(six.result).toMatchObject({ numberComponentsTotal: 6, numberComponentsDeployed: 6 });
  });

  it.each([
    // Not a single package and no package.xml at the root: each top-level folder is a package without one.
    ["a zip with no package.xml", makeZip({ "classes/A.cls": "public class A {}" }), "classes/package.xml", "No package.xml found"],
    ["bytes that are not a zip", Buffer.from("PK but not a zip at all"), "package.xml", "No package.xml found"],
    [
      "an empty <Package/> outside the metadata namespace",
      makeZip({ "package.xml": "<Package/>" }),
      "package.xml",
      "Error parsing file: Element {}Package invalid at this location",
    ],
    ["a package.xml that is not well-formed XML", makeZip({ "package.xml": "<Package><types>" }), "package.xml", "Error parsing file: Unclosed root tag"],
  ])("fails a deploy of %s", async (_, zip, fileName, problem) => {
    const out = await deploy(zip);
    expect(out.outcome).toBe("failed");
    expect(out.error?.code).toBe("deploy_failed");
    expect(out.result).toMatchObject({ status: "Failed", numberComponentsTotal: 0, numberComponentsDeployed: 0, numberComponentErrors: 1 });
    expect(failuresOf(out)).toEqual([expect.objectContaining({ fileName, problem: expect.stringContaining(problem) })]);
  });

  it("finds the package one folder down only when the zip is not a single package", async () => {
    const zip = metadataZip(undefined, { folder: "unpackaged" });
    expect((await deploy(zip)).outcome).toBe("succeeded");
    const single = await deploy(zip, { singlePackage: true });
    expect(failuresOf(single)).toEqual([expect.objectContaining({ fileName: "package.xml", problem: "No package.xml found" })]);
  });

  it("refuses a file the manifest does not name, a member the zip lacks (unless allowMissingFiles) and an unknown type", async () => {
    const files = metadataFiles([{ componentType: "ApexClass", fullName: "InvoiceService" }]);
    const extra = await deploy(makeZip({ ...files, ...componentFiles({ componentType: "ApexClass", fullName: "Stray" }) }));
    expect(failuresOf(extra)).toEqual([
      expect.objectContaining({ componentType: "ApexClass", fullName: "Stray", fileName: "classes/Stray.cls", problem: "Not in package.xml" }),
    ]);
    const manifest = packageXml({ ApexClass: ["InvoiceService", "Missing"] });
    const missing = await deploy(makeZip({ ...files, "package.xml": manifest }));
    expect(failuresOf(missing)).toEqual([
      expect.objectContaining({
        componentType: "ApexClass",
        fullName: "Missing",
        problem: "An object 'Missing' of type ApexClass was named in package.xml, but was not found in zipped directory",
      }),
    ]);
    const allowed = await deploy(makeZip({ ...files, "package.xml": manifest }), { allowMissingFiles: true });
    expect(allowed.result).toMatchObject({ status: "Succeeded", numberComponentsTotal: 1 });
    const unknown = await deploy(makeZip({ ...files, "package.xml": packageXml({ ApexClass: ["InvoiceService"], ApexClasses: ["X"] }) }));
    expect(failuresOf(unknown)).toEqual([
      expect.objectContaining({ fileName: "package.xml", problem: "Unknown type name 'ApexClasses' specified in package.xml" }),
    ]);
  });

  it("reads a child component from its parent's file: a field named in package.xml must be in the object's file, which then needs no entry of its own", async () => {
    const objectFile = (fields: string[]) =>
      `<?xml version="1.0" encoding="UTF-8"?>\n<CustomObject xmlns="http://soap.sforce.com/2006/04/metadata">${fields.map((f) => `<fields><fullName>${f}</fullName><label>${f}</label><type>Text</type><length>40</length></fields>`).join("")}</CustomObject>\n`;
    const manifest = packageXml({ CustomField: ["Invoice__c.Status__c"] });
    const present = await deploy(makeZip({ "package.xml": manifest, "objects/Invoice__c.object": objectFile(["Status__c"]) }));
    expect(present.result).toMatchObject({ status: "Succeeded", numberComponentsTotal: 1 });
    const absent = await deploy(makeZip({ "package.xml": manifest, "objects/Invoice__c.object": objectFile(["Amount__c"]) }));
    // The object's file then carries nothing named: it is a stray file too.
    expect(failuresOf(absent)).toEqual([
      expect.objectContaining({
        componentType: "CustomField",
        fullName: "Invoice__c.Status__c",
        problem: "An object 'Invoice__c.Status__c' of type CustomField was named in package.xml, but was not found in zipped directory",
      }),
      expect.objectContaining({ componentType: "CustomObject", fullName: "Invoice__c", problem: "Not in package.xml" }),
    ]);
    const noFile = await deploy(makeZip({ "package.xml": manifest }));
    expect(failuresOf(noFile)).toEqual([expect.objectContaining({ fullName: "Invoice__c.Status__c" })]);
  });

  it("runs the tests of the classes RunSpecifiedTests names, and refuses RunSpecifiedTests without runTests as Salesforce does", async () => {
    const out = await deploy(metadataZip(), { testLevel: "RunSpecifiedTests", runTests: ["AccountServiceTest"] });
    expect(out.result).toMatchObject({ status: "Succeeded", numberTestsTotal: 2, numTestsRun: 2 });
    // The runner's own payload check stops this before Salesforce; sent anyway, Salesforce faults it.
    const { ctx } = await operationHarness(org);
    await expect(ctx.conn.metadata.deploy(metadataZip(), { testLevel: "RunSpecifiedTests" })).rejects.toThrow(
      "INVALID_OPERATION: runTests must not be empty when a testLevel of RunSpecifiedTests is used",
    );
  });
});

async function vi_waitFor(cond: () => boolean, timeoutMs = 10_000): Promise<void> {
  const start = Date.now();
  while (!cond()) {
    if (Date.now() - start > timeoutMs) throw new Error("condition not met in time");
    await new Promise((r) => setTimeout(r, 5));
  }
}
