// deploy, validate (check-only with tests) and quick-deploy (of a validation), through the Metadata
// API: start the deploy, then checkDeployStatus(id, true) until done, reporting components and tests
// as progress. A cancel calls cancelDeploy and waits (bounded) for Salesforce to confirm it.
import type { DeployResult } from "jsforce/lib/api/metadata";
import type { DeployPayload, QuickDeployPayload, SourcePayload } from "../../protocol/payloads.ts";
import { CHECKPOINT_FAILED } from "../../protocol/checkpoint.ts";
import { CanceledError, OperationError, pause, percentOf, recordCheckpoint, type OperationContext, type OperationResult } from "./context.ts";
import { loadZip } from "./zip.ts";

/** Status checks spent waiting for Salesforce to confirm a cancel before reporting it anyway. */
export const CANCEL_CONFIRM_POLLS = 10;
const DONE_STATUSES = new Set(["Succeeded", "SucceededPartial", "Failed", "Canceled"]);

/** The part of a deploy result a task keeps: counts, and every component and test failure. */
export function summarizeDeploy(r: DeployResult) {
  const details = r.details ?? { componentFailures: [], componentSuccesses: [] };
  const tests = details.runTestResult;
  return {
    id: r.id,
    status: r.status,
    success: r.success,
    checkOnly: r.checkOnly,
    numberComponentsDeployed: r.numberComponentsDeployed,
    numberComponentsTotal: r.numberComponentsTotal,
    numberComponentErrors: r.numberComponentErrors,
    numberTestsCompleted: r.numberTestsCompleted,
    numberTestsTotal: r.numberTestsTotal,
    numberTestErrors: r.numberTestErrors,
    ...(r.errorMessage ? { errorMessage: r.errorMessage, errorStatusCode: r.errorStatusCode } : {}),
    componentFailures: (details.componentFailures ?? []).map((f) => ({
      componentType: f.componentType,
      fullName: f.fullName,
      fileName: f.fileName,
      problem: f.problem,
      problemType: f.problemType,
      lineNumber: f.lineNumber,
      columnNumber: f.columnNumber,
    })),
    testFailures: (tests?.failures ?? []).map((f) => ({
      name: f.name,
      methodName: f.methodName,
      message: f.message,
      stackTrace: f.stackTrace,
    })),
    ...(tests ? { numTestsRun: tests.numTestsRun, codeCoverageWarnings: (tests.codeCoverageWarnings ?? []).map((w) => w.message) } : {}),
  };
}
export type DeploySummary = ReturnType<typeof summarizeDeploy>;

function progressOf(r: DeployResult) {
  const components = percentOf(r.numberComponentsDeployed + r.numberComponentErrors, r.numberComponentsTotal);
  const tests = percentOf(r.numberTestsCompleted + r.numberTestErrors, r.numberTestsTotal);
  const percent = r.numberTestsTotal > 0 ? Math.round(components / 2 + tests / 2) : components;
  const parts = [`${r.numberComponentsDeployed}/${r.numberComponentsTotal} components`];
  if (r.numberTestsTotal > 0) parts.push(`${r.numberTestsCompleted}/${r.numberTestsTotal} tests`);
  if (r.stateDetail) parts.push(r.stateDetail);
  return { percent, step: r.status, message: parts.join(", ") };
}

function outcomeOf(summary: DeploySummary): OperationResult {
  if (summary.status === "Succeeded") return { outcome: "succeeded", result: summary };
  if (summary.status === "Canceled") return { outcome: "canceled", result: summary, error: { code: "canceled", message: `deploy ${summary.id} was canceled` } };
  const problems: string[] = [];
  if (summary.componentFailures.length) problems.push(`${summary.componentFailures.length} component failure(s)`);
  if (summary.testFailures.length) problems.push(`${summary.testFailures.length} test failure(s)`);
  const code = summary.componentFailures.length || !summary.testFailures.length ? "deploy_failed" : "tests_failed";
  const detail = problems.length ? problems.join(" and ") : (summary.errorMessage ?? summary.status);
  return { outcome: "failed", result: summary, error: { code, message: `deploy ${summary.id} ${summary.status}: ${detail}` } };
}

/** Polls a started deploy until it is done or canceled. */
export async function followDeploy(ctx: OperationContext, id: string): Promise<OperationResult> {
  let last = "";
  let canceling = false;
  let cancelPolls = 0;
  for (;;) {
    if (!canceling) {
      try {
        await pause(ctx);
      } catch (err) {
        if (!(err instanceof CanceledError)) throw err;
        canceling = true;
        ctx.log(`canceling deploy ${id}`);
        try {
          await ctx.conn.metadata.cancelDeploy(id);
        } catch (cancelErr) {
          // Already finished: the next status check says how it ended.
          ctx.log(`cancelDeploy: ${cancelErr instanceof Error ? cancelErr.message : String(cancelErr)}`);
        }
      }
    } else {
      cancelPolls += 1;
      await new Promise((r) => setTimeout(r, ctx.pollIntervalMs));
    }
    const r = await ctx.conn.metadata.checkDeployStatus(id, true);
    const p = progressOf(r);
    const key = `${p.step} ${p.message}`;
    if (key !== last) {
      last = key;
      ctx.progress(p);
      ctx.log(`deploy ${id} ${p.step}: ${p.message}`);
    }
    if (r.done || DONE_STATUSES.has(r.status)) {
      const summary = summarizeDeploy(r);
      for (const f of summary.componentFailures)
        ctx.log(`component failure ${f.componentType} ${f.fullName} (${f.fileName}:${f.lineNumber ?? "?"}): ${f.problem}`);
      for (const f of summary.testFailures) ctx.log(`test failure ${f.name}.${f.methodName}: ${f.message}`);
      return outcomeOf(summary);
    }
    if (canceling && cancelPolls >= CANCEL_CONFIRM_POLLS) {
      return {
        outcome: "canceled",
        result: summarizeDeploy(r),
        error: { code: "canceled", message: `deploy ${id} cancel requested; Salesforce still reports ${r.status}` },
      };
    }
  }
}

export async function runDeploy(ctx: OperationContext, payload: DeployPayload, mode: "deploy" | "validate"): Promise<OperationResult> {
  if (payload.source) return deployFromSource(ctx, payload, payload.source, mode);
  const zip = await loadZip(payload, ctx.signal, ctx.zipPolicy);
  return deployZip(ctx, zip, payload, mode);
}

/**
 * An sfdx project at a commit: fetched and converted by runner/source, then deployed like any zip —
 * as one package with package.xml at its root (singlePackage, as the sf CLI deploys). The commit
 * deployed (a branch or tag resolved once) is logged as soon as it is known and kept in the result.
 */
async function deployFromSource(ctx: OperationContext, payload: DeployPayload, source: SourcePayload, mode: "deploy" | "validate"): Promise<OperationResult> {
  if (!ctx.prepareSource) throw new OperationError("invalid_source", "this runner cannot deploy from a repository");
  ctx.progress({ percent: 0, step: "Source", message: `fetching ${source.repo} at ${source.ref}` });
  const prepared = await ctx.prepareSource(source);
  try {
    const from = prepared.fromSha ? ` (delta from ${prepared.fromSha})` : "";
    ctx.log(`source ${source.repo} ${source.ref} is commit ${prepared.sha}${from}: ${prepared.components} components, ${prepared.destructive} to delete`);
    for (const w of prepared.warnings) ctx.log(`source warning: ${w}`);
    const deployed = await deployZip(ctx, prepared.zip, { ...payload, singlePackage: payload.singlePackage ?? true }, mode);
    const summary = {
      repo: source.repo,
      ref: source.ref,
      sha: prepared.sha,
      ...(prepared.fromSha ? { fromSha: prepared.fromSha } : {}),
      packageDirectories: prepared.packageDirectories,
      components: prepared.components,
      destructive: prepared.destructive,
      ...(prepared.warnings.length ? { warnings: prepared.warnings } : {}),
    };
    const result = typeof deployed.result === "object" && deployed.result !== null ? { ...deployed.result, source: summary } : { source: summary };
    return { ...deployed, result };
  } finally {
    await prepared.cleanup();
  }
}

async function deployZip(ctx: OperationContext, zip: Buffer, payload: DeployPayload, mode: "deploy" | "validate"): Promise<OperationResult> {
  if (ctx.signal.aborted) throw new CanceledError();
  const checkOnly = mode === "validate";
  const testLevel = payload.testLevel ?? (checkOnly ? "RunLocalTests" : undefined);
  // Element order follows the WSDL's DeployOptions sequence (alphabetical): SOAP is strict about it.
  const options = {
    ...(payload.allowMissingFiles !== undefined ? { allowMissingFiles: payload.allowMissingFiles } : {}),
    checkOnly,
    ...(payload.ignoreWarnings !== undefined ? { ignoreWarnings: payload.ignoreWarnings } : {}),
    ...(payload.purgeOnDelete !== undefined ? { purgeOnDelete: payload.purgeOnDelete } : {}),
    ...(payload.rollbackOnError !== undefined ? { rollbackOnError: payload.rollbackOnError } : {}),
    ...(payload.runTests?.length ? { runTests: payload.runTests } : {}),
    ...(payload.singlePackage !== undefined ? { singlePackage: payload.singlePackage } : {}),
    ...(testLevel ? { testLevel } : {}),
  };
  ctx.progress({ percent: 0, step: "Queued", message: `${mode}: sending ${zip.length} bytes` });
  const started = await ctx.conn.metadata.deploy(zip, options);
  ctx.log(`${mode} started: ${started.id} (${testLevel ?? "default test level"})`);
  await recordCheckpoint(ctx, { operation: mode, salesforceId: started.id });
  return followDeploy(ctx, started.id);
}

/**
 * A quick-deploy is never submitted twice: its intent is stored on the task before the submit, so an
 * attempt that finds the intent without an id knows an earlier one may have submitted it (resume.ts).
 */
export async function runQuickDeploy(ctx: OperationContext, payload: QuickDeployPayload): Promise<OperationResult> {
  if (ctx.signal.aborted) throw new CanceledError();
  if (ctx.checkpoint && !(await ctx.checkpoint({ operation: "quick-deploy" }))) {
    throw new OperationError(CHECKPOINT_FAILED, `the intent to quick-deploy validation ${payload.validationId} did not reach the edge: not submitted`);
  }
  const id = await ctx.conn.metadata.deployRecentValidation({ id: payload.validationId, rest: false });
  if (typeof id !== "string" || !id) throw new OperationError("salesforce_error", "deployRecentValidation returned no deploy id");
  ctx.log(`quick deploy of validation ${payload.validationId} started: ${id}`);
  await recordCheckpoint(ctx, { operation: "quick-deploy", salesforceId: id });
  return followDeploy(ctx, id);
}
