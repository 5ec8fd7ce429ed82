// Resume, don't repeat (issue 13), at the operation level against the org double (real jsforce): a
// started Salesforce job is checkpointed before it is followed; an attempt carrying a checkpoint follows
// that job (running or finished) and never starts another; a quick-deploy is never submitted twice.
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import type { Checkpoint, CheckpointFields } from "../../protocol/checkpoint.ts";
import { metadataZip } from "../../test/doubles/salesforce-fixtures.ts";
import { startSalesforceOrg, type SalesforceOrgDouble } from "../../test/doubles/salesforce-org.ts";
import { runOperation } from "./index.ts";
import { operationHarness, type OperationHarness } from "./testing.ts";

const ZIP = metadataZip().toString("base64");
const RETRIEVE = { unpackaged: { types: [{ name: "ApexClass", members: ["AccountService"] }] } };
const TESTS = { classNames: ["AccountServiceTest"] };

let org: SalesforceOrgDouble;
beforeAll(async () => {
  org = await startSalesforceOrg();
});
afterAll(() => org.close());
beforeEach(() => {
  org.controls.deployPolls = 2;
  org.controls.testRunPolls = 1;
});

/** SOAP calls of `op` (deploy, retrieve, deployRecentValidation…) and REST calls whose URL holds `op`, so far. */
const calls = (op: string) => org.requests.filter((r) => r.body.includes(`<${op}>`) || r.url.includes(`/${op}`)).length;

/** A harness whose checkpoints are recorded (and stored, unless `stored` says otherwise). */
async function recording(stored = true): Promise<OperationHarness & { checkpoints: CheckpointFields[] }> {
  const h = await operationHarness(org);
  const checkpoints: CheckpointFields[] = [];
  h.ctx.checkpoint = async (fields) => {
    checkpoints.push(fields);
    return stored;
  };
  return { ...h, checkpoints };
}

const resumeFrom = (fields: CheckpointFields): Checkpoint => ({ ...fields, attempt: 1, at: new Date().toISOString() });

describe("checkpoints", () => {
  it("records a deploy's id once Salesforce accepted it, and polls it only after the edge stored it", async () => {
    const h = await operationHarness(org);
    let release: (stored: boolean) => void = () => {};
    let checksBeforeStored = -1;
    const before = calls("checkDeployStatus");
    const seen: CheckpointFields[] = [];
    h.ctx.checkpoint = (fields) => {
      seen.push(fields);
      return new Promise((resolve) => {
        release = (stored) => {
          checksBeforeStored = calls("checkDeployStatus") - before;
          resolve(stored);
        };
      });
    };
    const running = runOperation("deploy", { zipBase64: ZIP }, h.ctx);
    await expect.poll(() => seen.length).toBe(1);
    await new Promise((r) => setTimeout(r, 50));
    release(true);
    const out = await running;
    expect(checksBeforeStored).toBe(0);
    expect(seen).toEqual([{ operation: "deploy", salesforceId: (out.result as { id: string }).id }]);
    expect(out.outcome).toBe("succeeded");
  });

  it("checkpoints a validate, a retrieve and a test run with their Salesforce ids", async () => {
    const h = await recording();
    const validate = await runOperation("validate", { zipBase64: ZIP, testLevel: "NoTestRun" }, h.ctx);
    const retrieve = await runOperation("retrieve", RETRIEVE, h.ctx);
    const tests = await runOperation("run-tests", TESTS, h.ctx);
    expect(h.checkpoints).toEqual([
      { operation: "validate", salesforceId: (validate.result as { id: string }).id },
      { operation: "retrieve", salesforceId: (retrieve.result as { id: string }).id },
      { operation: "run-tests", salesforceId: (tests.result as { jobId: string }).jobId },
    ]);
  });
});

describe("an attempt with a checkpoint", () => {
  it("follows a deploy that is still running to its result, without a second deploy", async () => {
    org.controls.deployPolls = 4;
    const first = await operationHarness(org);
    const { id } = await first.ctx.conn.metadata.deploy(metadataZip(), { checkOnly: false });
    const deploys = org.deployIds().length;
    const h = await operationHarness(org);
    h.ctx.resume = resumeFrom({ operation: "deploy", salesforceId: id });
    const out = await runOperation("deploy", { zipBase64: ZIP }, h.ctx);
    expect(out).toMatchObject({ outcome: "succeeded", result: { id, status: "Succeeded", numberComponentsDeployed: 4 } });
    expect(org.deployIds().length).toBe(deploys);
    expect(h.progress.some((p) => p.step === "InProgress")).toBe(true);
    expect(h.logs[0]).toMatch(new RegExp(`resuming deploy ${id}, started by attempt 1`));
  });

  it("reports the result of a deploy that finished meanwhile, without a second deploy", async () => {
    const first = await recording();
    const done = await runOperation("deploy", { zipBase64: ZIP }, first.ctx);
    const deploys = calls("deploy");
    const h = await operationHarness(org);
    h.ctx.resume = resumeFrom(first.checkpoints[0]);
    expect(await runOperation("deploy", { zipBase64: ZIP }, h.ctx)).toEqual(done);
    expect(calls("deploy")).toBe(deploys);
  });

  it("follows a retrieve and a test run instead of starting new ones", async () => {
    const first = await operationHarness(org);
    // As runRetrieve sends it (the WSDL's element order).
    const unpackaged = { objectPermissions: [], types: [{ members: ["AccountService"], name: "ApexClass" }], version: first.ctx.conn.version };
    const started = await first.ctx.conn.metadata.retrieve({ apiVersion: Number(first.ctx.conn.version), unpackaged });
    const runId = String(await first.ctx.conn.tooling.runTestsAsynchronous({ testLevel: "RunSpecifiedTests", classNames: "AccountServiceTest" }));
    const [retrieves, runs] = [calls("retrieve"), calls("runTestsAsynchronous")];

    const r = await operationHarness(org);
    r.ctx.resume = resumeFrom({ operation: "retrieve", salesforceId: started.id });
    expect(await runOperation("retrieve", RETRIEVE, r.ctx)).toMatchObject({ outcome: "succeeded", result: { id: started.id, status: "Succeeded" } });
    const t = await operationHarness(org);
    t.ctx.resume = resumeFrom({ operation: "run-tests", salesforceId: runId });
    expect(await runOperation("run-tests", TESTS, t.ctx)).toMatchObject({ outcome: "succeeded", result: { jobId: runId, status: "Completed" } });
    expect([calls("retrieve"), calls("runTestsAsynchronous")]).toEqual([retrieves, runs]);
  });

  it("starts a retrieve anew when Salesforce no longer knows the checkpointed one (reading again changes nothing)", async () => {
    const h = await operationHarness(org);
    h.ctx.resume = resumeFrom({ operation: "retrieve", salesforceId: "09S5g00000UnKnOWNA" });
    const retrieves = calls("retrieve");
    expect(await runOperation("retrieve", RETRIEVE, h.ctx)).toMatchObject({ outcome: "succeeded" });
    expect(calls("retrieve")).toBe(retrieves + 1);
  });
});

describe("quick-deploy", () => {
  async function validation(): Promise<string> {
    const out = await runOperation("validate", { zipBase64: ZIP, testLevel: "NoTestRun" }, (await operationHarness(org)).ctx);
    return (out.result as { id: string }).id;
  }

  it("records its intent before submitting, then the deploy id", async () => {
    const validationId = await validation();
    const h = await operationHarness(org);
    const seen: Array<{ fields: CheckpointFields; submitted: number }> = [];
    const before = calls("deployRecentValidation");
    h.ctx.checkpoint = async (fields) => {
      seen.push({ fields, submitted: calls("deployRecentValidation") - before });
      return true;
    };
    const out = await runOperation("quick-deploy", { validationId }, h.ctx);
    expect(out.outcome).toBe("succeeded");
    const id = (out.result as { id: string }).id;
    expect(seen).toEqual([
      { fields: { operation: "quick-deploy" }, submitted: 0 },
      { fields: { operation: "quick-deploy", salesforceId: id }, submitted: 1 },
    ]);
  });

  it("is not submitted when its intent does not reach the edge (checkpoint_failed)", async () => {
    const validationId = await validation();
    const h = await recording(false);
    const before = calls("deployRecentValidation");
    const out = await runOperation("quick-deploy", { validationId }, h.ctx);
    expect(out).toMatchObject({ outcome: "failed", error: { code: "checkpoint_failed" } });
    expect(calls("deployRecentValidation")).toBe(before);
  });

  it("is never submitted again: an intent without an id fails quick_deploy_uncertain, one with an id is followed", async () => {
    const validationId = await validation();
    const first = await recording();
    const done = await runOperation("quick-deploy", { validationId }, first.ctx);
    const submitted = calls("deployRecentValidation");

    const uncertain = await recording();
    uncertain.ctx.resume = resumeFrom({ operation: "quick-deploy" });
    const failed = await runOperation("quick-deploy", { validationId }, uncertain.ctx);
    expect(failed).toMatchObject({ outcome: "failed", error: { code: "quick_deploy_uncertain", message: expect.stringContaining("not submitted again") } });
    expect(uncertain.checkpoints).toEqual([]);

    const resumed = await recording();
    resumed.ctx.resume = resumeFrom(first.checkpoints[1]);
    expect(await runOperation("quick-deploy", { validationId }, resumed.ctx)).toEqual(done);
    expect(calls("deployRecentValidation")).toBe(submitted);
  });
});
