// The Metadata API (SOAP, /services/Soap/m/<version>) of the org double: deploy, checkDeployStatus,
// cancelDeploy, deployRecentValidation, retrieve, checkRetrieveStatus. It reads each call's element
// (already checked to be a well-formed envelope in the metadata namespace) as the WSDL types it,
// refuses what Salesforce refuses, and answers a deploy from the zip it was sent. Each async job
// advances one step per status check, so a test controls how long a deploy "runs" by the polls.
import { analyzeDeployZip, type Component, type ComponentFailure } from "./metadata-package.ts";
import { answerRetrieve, type RetrieveJob } from "./metadata-retrieve.ts";
import { sfId } from "./salesforce-fixtures.ts";
import { clientFault, Fault, invalidHere, sequence, toXml, xsdBoolean, type XmlObject, type XmlValue } from "./soap.ts";
import { childNamed, childText, METADATA_NS, qname, type XmlElement } from "./xml.ts";

export type { ComponentFailure };
export interface TestFailure {
  name: string;
  methodName: string;
  message: string;
  stackTrace?: string;
}

export interface MetadataControls {
  /** Status checks answered InProgress before a deploy or retrieve finishes (default 1). */
  deployPolls: number;
  /**
   * Failures the next deploys report for components they hold (cleared by the test, not by the
   * double). A failure naming a component the deploy does not hold is a mistake in the test: the
   * double answers it with a 500.
   */
  componentFailures: ComponentFailure[];
  testFailures: TestFailure[];
  /** The org's Apex test methods (Class.method): RunLocalTests runs them all, RunSpecifiedTests those of the named classes. */
  tests: string[];
}

export type SoapAnswer = { ok: true; xml: string } | { ok: false; faultcode: string; faultstring: string };

type DeployStatus = "Pending" | "InProgress" | "Succeeded" | "Failed" | "Canceling" | "Canceled";

interface DeployJob {
  id: string;
  checkOnly: boolean;
  /** The test methods this deploy runs (Class.method). */
  tests: string[];
  polls: number;
  status: DeployStatus;
  createdDate: string;
  components: Component[];
  /** What Salesforce refused in the zip itself: the deploy fails at its first status check. */
  packageFailures: ComponentFailure[];
  componentFailures: ComponentFailure[];
  testFailures: TestFailure[];
  validationOf?: string;
  ignoreWarnings: boolean;
  rollbackOnError: boolean;
}

/** DeployOptions' elements in the WSDL's sequence: SOAP takes them in this order only. */
const DEPLOY_OPTIONS = [
  "allowMissingFiles",
  "autoUpdatePackage",
  "checkOnly",
  "ignoreWarnings",
  "performRetrieve",
  "purgeOnDelete",
  "rollbackOnError",
  "runAllTests",
  "runTests",
  "singlePackage",
  "testLevel",
] as const;
type DeployOption = (typeof DEPLOY_OPTIONS)[number];
const TEST_LEVELS = ["NoTestRun", "RunSpecifiedTests", "RunLocalTests", "RunAllTestsInOrg"];

interface DeployOptions {
  flags: Partial<Record<Exclude<DeployOption, "runTests" | "testLevel">, boolean>>;
  runTests: string[];
  testLevel?: string;
}

function deployOptions(el: XmlElement | undefined): DeployOptions {
  const options: DeployOptions = { flags: {}, runTests: [] };
  if (!el) return options;
  sequence(el, DEPLOY_OPTIONS, ["runTests"]);
  for (const child of el.children) {
    const name = child.local as DeployOption;
    if (name === "runTests") options.runTests.push(child.text.trim());
    else if (name === "testLevel") {
      if (!TEST_LEVELS.includes(child.text.trim())) throw clientFault(`'${child.text.trim()}' is not a valid value for the enum 'TestLevel'`);
      options.testLevel = child.text.trim();
    } else options.flags[name] = xsdBoolean(child);
  }
  if (options.testLevel === "RunSpecifiedTests" && !options.runTests.some(Boolean)) {
    throw new Fault("sf:INVALID_OPERATION", "INVALID_OPERATION: runTests must not be empty when a testLevel of RunSpecifiedTests is used");
  }
  return options;
}

function base64Of(el: XmlElement): Buffer {
  const text = el.text.replace(/\s+/g, "");
  if (!/^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$/.test(text)) throw clientFault("Unable to parse the base64Binary value of ZipFile");
  return Buffer.from(text, "base64");
}

const DONE: DeployStatus[] = ["Succeeded", "Failed", "Canceled"];

export function createMetadataApi(controls: MetadataControls) {
  const deploys = new Map<string, DeployJob>();
  const retrieves = new Map<string, RetrieveJob>();
  const now = () => new Date().toISOString();
  const USER = { createdBy: "0055g00000AbCdEAAA", createdByName: "Integration User" };

  const advance = (job: DeployJob) => {
    if (job.status === "Canceling") {
      job.status = "Canceled";
      return;
    }
    if (DONE.includes(job.status)) return;
    job.polls += 1;
    if (job.packageFailures.length) {
      job.status = "Failed";
      return;
    }
    if (job.polls <= controls.deployPolls) {
      job.status = "InProgress";
      return;
    }
    job.status = job.componentFailures.length || job.testFailures.length ? "Failed" : "Succeeded";
  };

  const deployResult = (job: DeployJob, includeDetails: boolean): XmlObject => {
    const done = DONE.includes(job.status);
    const failures = [...job.packageFailures, ...job.componentFailures];
    const total = job.components.length;
    const fraction = done ? 1 : Math.min(job.polls / (controls.deployPolls + 1), 1);
    const failedNames = new Set(job.componentFailures.map((f) => `${f.componentType}:${f.fullName}`));
    const succeeded = job.packageFailures.length ? [] : job.components.filter((c) => !failedNames.has(`${c.componentType}:${c.fullName}`));
    const deployed = job.status === "Canceled" || job.packageFailures.length ? 0 : done ? succeeded.length : Math.floor(total * fraction);
    const testsTotal = job.tests.length;
    const testsDone = done ? testsTotal : Math.floor(testsTotal * fraction);
    const failedTests = new Set(job.testFailures.map((f) => `${f.name}.${f.methodName}`));
    const ran = job.tests.length > 0 && done && job.status !== "Canceled" && !job.packageFailures.length;
    const details: XmlObject = {
      componentSuccesses:
        done && job.status !== "Canceled"
          ? succeeded.map((c) => ({
              changed: !c.deleted,
              componentType: c.componentType,
              created: false,
              createdDate: job.createdDate,
              deleted: Boolean(c.deleted),
              fileName: c.fileName,
              fullName: c.fullName,
              id: sfId("01p"),
              success: true,
            }))
          : [],
      componentFailures: done
        ? failures.map((f) => ({
            changed: false,
            columnNumber: f.columnNumber,
            componentType: f.componentType,
            created: false,
            createdDate: job.createdDate,
            deleted: false,
            fileName: f.fileName,
            fullName: f.fullName,
            lineNumber: f.lineNumber,
            problem: f.problem,
            problemType: "Error",
            success: false,
          }))
        : [],
      runTestResult: ran
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
            successes: job.tests
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
      id: job.id,
      ignoreWarnings: job.ignoreWarnings,
      lastModifiedDate: now(),
      numberComponentErrors: done ? failures.length : 0,
      numberComponentsDeployed: deployed,
      numberComponentsTotal: total,
      numberTestErrors: ran ? job.testFailures.length : 0,
      numberTestsCompleted: ran ? testsTotal - job.testFailures.length : testsDone,
      numberTestsTotal: testsTotal,
      rollbackOnError: job.rollbackOnError,
      runTestsEnabled: job.tests.length > 0,
      startDate: job.createdDate,
      stateDetail: done ? undefined : job.tests.length && fraction > 0.5 ? `Running Test: ${job.tests[0]}` : "Processing Type: ApexClass",
      status: job.status,
      success: job.status === "Succeeded",
    };
  };

  /** The injected failures of components this deploy holds; one it does not hold is the test's mistake. */
  const injectedFailures = (components: Component[]): ComponentFailure[] => {
    for (const f of controls.componentFailures) {
      if (!components.some((c) => c.componentType === f.componentType && c.fullName === f.fullName)) {
        throw new Error(`controls.componentFailures names ${f.componentType} ${f.fullName}, which this deploy does not hold`);
      }
    }
    return [...controls.componentFailures];
  };

  const startDeploy = (op: XmlElement): DeployJob => {
    sequence(op, ["ZipFile", "DeployOptions"]);
    const zipEl = childNamed(op, "ZipFile");
    if (!zipEl) throw clientFault(`Element ${qname({ ns: METADATA_NS, local: "ZipFile" })} is missing in deploy`);
    const zip = base64Of(zipEl);
    const options = deployOptions(childNamed(op, "DeployOptions"));
    const { components, failures } = analyzeDeployZip(zip, {
      singlePackage: options.flags.singlePackage ?? false,
      allowMissingFiles: options.flags.allowMissingFiles ?? false,
    });
    const level = options.testLevel ?? "NoTestRun";
    const classes = new Set(options.runTests);
    const tests = level === "NoTestRun" ? [] : level === "RunSpecifiedTests" ? controls.tests.filter((t) => classes.has(t.split(".")[0])) : [...controls.tests];
    const job: DeployJob = {
      id: sfId("0Af"),
      checkOnly: options.flags.checkOnly ?? false,
      tests,
      polls: 0,
      status: "Pending",
      createdDate: now(),
      components,
      packageFailures: failures,
      componentFailures: failures.length ? [] : injectedFailures(components),
      testFailures: controls.testFailures.filter((f) => tests.includes(`${f.name}.${f.methodName}`)),
      ignoreWarnings: options.flags.ignoreWarnings ?? false,
      rollbackOnError: options.flags.rollbackOnError ?? true,
    };
    deploys.set(job.id, job);
    return job;
  };

  const ok = (method: string, result: XmlValue): SoapAnswer => ({ ok: true, xml: toXml(`${method}Response`, { result }) });
  const deployOf = (id: string | undefined) => {
    const job = deploys.get(id?.trim() ?? "");
    if (!job) throw new Fault("sf:INVALID_ID_FIELD", "INVALID_ID_FIELD: Invalid Id for deploy");
    return job;
  };

  function call(op: XmlElement): SoapAnswer {
    switch (op.local) {
      case "deploy": {
        const job = startDeploy(op);
        return ok("deploy", { done: false, id: job.id, state: "Queued" });
      }
      case "checkDeployStatus": {
        sequence(op, ["asyncProcessId", "includeDetails"]);
        const job = deployOf(childText(op, "asyncProcessId"));
        advance(job);
        const details = childNamed(op, "includeDetails");
        return ok("checkDeployStatus", deployResult(job, details ? xsdBoolean(details) : false));
      }
      case "cancelDeploy": {
        // The WSDL calls the id "String"; jsforce sends it as "id". Either is taken.
        const idEl = childNamed(op, "String") ?? childNamed(op, "id");
        if (op.children.length !== 1 || !idEl) throw invalidHere(op.children[1] ?? op);
        const job = deployOf(idEl.text);
        if (DONE.includes(job.status)) throw new Fault("sf:INVALID_ID_FIELD", `INVALID_ID_FIELD: deployment ${job.id} is already done`);
        job.status = "Canceling";
        return ok("cancelDeploy", { done: false, id: job.id });
      }
      case "deployRecentValidation": {
        sequence(op, ["validationId"]);
        const validated = deploys.get(childText(op, "validationId")?.trim() ?? "");
        if (!validated?.checkOnly || validated.status !== "Succeeded") {
          throw new Fault("sf:INVALID_CROSS_REFERENCE_KEY", "INVALID_CROSS_REFERENCE_KEY: invalid cross reference id");
        }
        const job: DeployJob = {
          ...validated,
          id: sfId("0Af"),
          checkOnly: false,
          tests: [],
          polls: 0,
          status: "Pending",
          createdDate: now(),
          componentFailures: [],
          testFailures: [],
          validationOf: validated.id,
        };
        deploys.set(job.id, job);
        return ok("deployRecentValidation", job.id);
      }
      case "retrieve":
      case "checkRetrieveStatus":
        return ok(op.local, answerRetrieve(op, retrieves, controls.deployPolls, USER));
      default:
        throw clientFault(`No operation available for request ${qname(op)}, please check the WSDL for the service.`);
    }
  }

  /** Answers one Metadata API call: its result, or the SOAP fault Salesforce would send. */
  function invoke(op: XmlElement): SoapAnswer {
    try {
      return call(op);
    } catch (err) {
      if (err instanceof Fault) return { ok: false, faultcode: err.faultcode, faultstring: err.faultstring };
      throw err;
    }
  }

  return { invoke, deploys };
}
