// The Metadata API (SOAP, /services/Soap/m/<version>) of the org double: deploy, checkDeployStatus,
// cancelDeploy, deployRecentValidation, retrieve, checkRetrieveStatus. Each async job advances one
// step per status check, so a test controls how long a deploy "runs" by the number of polls.
import { makeZip, PACKAGE_XML, sfId } from "./salesforce-fixtures.ts";

export interface ComponentFailure {
  componentType: string;
  fullName: string;
  fileName: string;
  problem: string;
  lineNumber?: number;
  columnNumber?: number;
}
export interface TestFailure {
  name: string;
  methodName: string;
  message: string;
  stackTrace?: string;
}

export interface MetadataControls {
  /** Status checks answered InProgress before a deploy or retrieve finishes (default 1). */
  deployPolls: number;
  /** Components every deploy reports (fullName, type). */
  components: Array<{ componentType: string; fullName: string; fileName: string }>;
  /** Failures the next deploys report (cleared by the test, not by the double). */
  componentFailures: ComponentFailure[];
  testFailures: TestFailure[];
  /** Test methods a deploy with tests runs (className.methodName). */
  tests: string[];
}

export type SoapAnswer = { ok: true; xml: string } | { ok: false; faultcode: string; faultstring: string };

interface DeployJob {
  id: string;
  checkOnly: boolean;
  runTests: boolean;
  polls: number;
  status: "Pending" | "InProgress" | "Succeeded" | "Failed" | "Canceling" | "Canceled";
  createdDate: string;
  componentFailures: ComponentFailure[];
  testFailures: TestFailure[];
  validationOf?: string;
  zipBytes: number;
  options: Record<string, string | string[]>;
}

export function escapeXml(s: string): string {
  return s.replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;").replace(/"/g, "&quot;");
}

type XmlValue = string | number | boolean | null | undefined | XmlObject | XmlValue[];
interface XmlObject {
  [key: string]: XmlValue;
}

export function toXml(name: string, value: XmlValue): string {
  if (value === undefined) return "";
  if (Array.isArray(value)) return value.map((v) => toXml(name, v)).join("");
  if (value === null) return `<${name} xsi:nil="true"/>`;
  if (typeof value === "object")
    return `<${name}>${Object.entries(value)
      .map(([k, v]) => toXml(k, v))
      .join("")}</${name}>`;
  return `<${name}>${escapeXml(String(value))}</${name}>`;
}

/** Values of <tag>…</tag> in a request body (the double reads jsforce's envelopes, which it knows). */
export function tagValues(body: string, tag: string): string[] {
  const out: string[] = [];
  const re = new RegExp(`<${tag}(?:\\s[^>]*)?>([\\s\\S]*?)</${tag}>`, "g");
  for (let m = re.exec(body); m; m = re.exec(body)) out.push(m[1]);
  return out;
}

export function createMetadataApi(controls: MetadataControls) {
  const deploys = new Map<string, DeployJob>();
  const retrieves = new Map<string, { id: string; polls: number; types: Array<{ name: string; members: string[] }> }>();
  const now = () => new Date().toISOString();
  const USER = { createdBy: "0055g00000AbCdEAAA", createdByName: "Integration User" };

  const advance = (job: DeployJob) => {
    if (job.status === "Canceling") {
      job.status = "Canceled";
      return;
    }
    if (job.status === "Succeeded" || job.status === "Failed" || job.status === "Canceled") return;
    job.polls += 1;
    if (job.polls <= controls.deployPolls) {
      job.status = "InProgress";
      return;
    }
    job.status = job.componentFailures.length || job.testFailures.length ? "Failed" : "Succeeded";
  };

  const deployResult = (job: DeployJob, includeDetails: boolean): XmlObject => {
    const done = ["Succeeded", "Failed", "Canceled"].includes(job.status);
    const total = controls.components.length;
    const fraction = done ? 1 : Math.min(job.polls / (controls.deployPolls + 1), 1);
    const deployed = job.status === "Canceled" ? 0 : Math.floor(total * fraction) - (done ? job.componentFailures.length : 0);
    const testsTotal = job.runTests ? controls.tests.length : 0;
    const testsDone = Math.floor(testsTotal * fraction);
    const failedTests = new Set(job.testFailures.map((f) => `${f.name}.${f.methodName}`));
    const details: XmlObject = {
      componentSuccesses:
        done && job.status !== "Canceled"
          ? controls.components
              .filter((c) => !job.componentFailures.some((f) => f.fullName === c.fullName))
              .map((c) => ({
                changed: true,
                componentType: c.componentType,
                created: false,
                createdDate: job.createdDate,
                deleted: false,
                fileName: c.fileName,
                fullName: c.fullName,
                id: sfId("01p"),
                success: true,
              }))
          : [],
      componentFailures: job.componentFailures.map((f) => ({
        changed: false,
        columnNumber: f.columnNumber ?? 1,
        componentType: f.componentType,
        created: false,
        createdDate: job.createdDate,
        deleted: false,
        fileName: f.fileName,
        fullName: f.fullName,
        lineNumber: f.lineNumber ?? 1,
        problem: f.problem,
        problemType: "Error",
        success: false,
      })),
      runTestResult:
        job.runTests && done
          ? {
              numFailures: job.testFailures.length,
              numTestsRun: testsTotal,
              totalTime: 1234,
              failures: job.testFailures.map((f) => ({
                id: sfId("01p"),
                message: f.message,
                methodName: f.methodName,
                name: f.name,
                namespace: null,
                packageName: f.name,
                stackTrace: f.stackTrace ?? `Class.${f.name}.${f.methodName}: line 12, column 1`,
                time: 41,
                type: "Class",
              })),
              successes: controls.tests
                .filter((t) => !failedTests.has(t))
                .map((t) => ({ id: sfId("01p"), methodName: t.split(".")[1], name: t.split(".")[0], namespace: null, time: 17 })),
              codeCoverage: [],
              codeCoverageWarnings: [],
            }
          : undefined,
    };
    return {
      checkOnly: job.checkOnly,
      completedDate: done ? now() : undefined,
      ...USER,
      createdDate: job.createdDate,
      details: includeDetails ? details : undefined,
      done,
      errorMessage: job.status === "Failed" && !job.componentFailures.length && !job.testFailures.length ? "Deployment failed" : undefined,
      id: job.id,
      ignoreWarnings: job.options.ignoreWarnings === "true",
      lastModifiedDate: now(),
      numberComponentErrors: done ? job.componentFailures.length : 0,
      numberComponentsDeployed: Math.max(deployed, 0),
      numberComponentsTotal: total,
      numberTestErrors: done ? job.testFailures.length : 0,
      numberTestsCompleted: testsDone - (done ? job.testFailures.length : 0),
      numberTestsTotal: testsTotal,
      rollbackOnError: job.options.rollbackOnError !== "false",
      runTestsEnabled: job.runTests,
      startDate: job.createdDate,
      stateDetail: done ? undefined : job.runTests && fraction > 0.5 ? "Running Test: FooTest.testOne" : "Processing Type: ApexClass",
      status: job.status,
      success: job.status === "Succeeded",
    };
  };

  const newDeploy = (body: string, validationOf?: DeployJob): DeployJob => {
    const options: Record<string, string | string[]> = {};
    const optsXml = tagValues(body, "DeployOptions")[0] ?? "";
    for (const name of ["checkOnly", "testLevel", "ignoreWarnings", "rollbackOnError", "singlePackage", "purgeOnDelete", "allowMissingFiles"]) {
      const v = tagValues(optsXml, name)[0];
      if (v !== undefined) options[name] = v;
    }
    options.runTests = tagValues(optsXml, "runTests");
    const testLevel = String(options.testLevel ?? "NoTestRun");
    const checkOnly = options.checkOnly === "true";
    const job: DeployJob = {
      id: sfId("0Af"),
      checkOnly,
      runTests: !validationOf && testLevel !== "NoTestRun",
      polls: 0,
      status: "Pending",
      createdDate: now(),
      componentFailures: validationOf ? [] : [...controls.componentFailures],
      testFailures: validationOf || testLevel === "NoTestRun" ? [] : [...controls.testFailures],
      validationOf: validationOf?.id,
      zipBytes: Buffer.from(tagValues(body, "ZipFile")[0] ?? "", "base64").length,
      options,
    };
    deploys.set(job.id, job);
    return job;
  };

  const fault = (faultcode: string, faultstring: string): SoapAnswer => ({ ok: false, faultcode, faultstring });
  const ok = (method: string, result: XmlValue): SoapAnswer => ({ ok: true, xml: toXml(`${method}Response`, { result }) });

  function invoke(method: string, body: string): SoapAnswer {
    switch (method) {
      case "deploy": {
        if (!tagValues(body, "ZipFile")[0]) return fault("sf:INVALID_ZIP", "INVALID_ZIP: the zip file is empty");
        const job = newDeploy(body);
        return ok(method, { done: false, id: job.id, state: "Queued" });
      }
      case "checkDeployStatus": {
        const job = deploys.get(tagValues(body, "asyncProcessId")[0] ?? "");
        if (!job) return fault("sf:INVALID_ID_FIELD", "INVALID_ID_FIELD: Invalid Id for deploy");
        advance(job);
        return ok(method, deployResult(job, tagValues(body, "includeDetails")[0] === "true"));
      }
      case "cancelDeploy": {
        const job = deploys.get(tagValues(body, "id")[0] ?? "");
        if (!job) return fault("sf:INVALID_ID_FIELD", "INVALID_ID_FIELD: Invalid Id for deploy");
        if (["Succeeded", "Failed", "Canceled"].includes(job.status)) {
          return fault("sf:INVALID_ID_FIELD", `INVALID_ID_FIELD: deployment ${job.id} is already done`);
        }
        job.status = "Canceling";
        return ok(method, { done: false, id: job.id });
      }
      case "deployRecentValidation": {
        const validated = deploys.get(tagValues(body, "validationId")[0] ?? "");
        if (!validated?.checkOnly || validated.status !== "Succeeded") {
          return fault("sf:INVALID_CROSS_REFERENCE_KEY", "INVALID_CROSS_REFERENCE_KEY: invalid cross reference id");
        }
        const job = newDeploy("", validated);
        return ok(method, job.id);
      }
      case "retrieve": {
        const types = tagValues(body, "types").map((t) => ({ name: tagValues(t, "name")[0] ?? "", members: tagValues(t, "members") }));
        const id = sfId("09S");
        retrieves.set(id, { id, polls: 0, types });
        return ok(method, { done: false, id, state: "Queued" });
      }
      case "checkRetrieveStatus": {
        const job = retrieves.get(tagValues(body, "asyncProcessId")[0] ?? "");
        if (!job) return fault("sf:INVALID_ID_FIELD", "INVALID_ID_FIELD: Invalid Id for retrieve");
        job.polls += 1;
        const done = job.polls > controls.deployPolls;
        const files: Record<string, string> = { "unpackaged/package.xml": PACKAGE_XML };
        for (const t of job.types) for (const m of t.members) files[`unpackaged/classes/${m}.cls`] = `public class ${m} {}\n`;
        return ok(method, {
          done,
          fileProperties: done
            ? Object.keys(files).map((f) => ({
                createdById: USER.createdBy,
                createdByName: USER.createdByName,
                createdDate: now(),
                fileName: f,
                fullName: f.replace(/^unpackaged\/(classes\/)?/, "").replace(/\.(cls|xml)$/, ""),
                id: sfId("01p"),
                lastModifiedById: USER.createdBy,
                lastModifiedByName: USER.createdByName,
                lastModifiedDate: now(),
                manageableState: "unmanaged",
                type: f.endsWith(".cls") ? "ApexClass" : "Package",
              }))
            : [],
          id: job.id,
          status: done ? "Succeeded" : "InProgress",
          success: done,
          zipFile: done ? makeZip(files).toString("base64") : undefined,
        });
      }
      default:
        return fault("sf:INVALID_OPERATION", `INVALID_OPERATION: ${method} is not supported by this double`);
    }
  }

  return { invoke, deploys };
}
