// run-tests through the Tooling API, as the sf CLI does: runTestsAsynchronous starts an Apex test
// job, ApexTestRunResult reports its progress, ApexTestResult holds one row per test method.
// (A metadata deploy with runTests would also run tests, but needs a zip and a deploy slot.)
import type { RunTestsPayload } from "../../protocol/payloads.ts";
import { CanceledError, OperationError, pause, percentOf, recordCheckpoint, type OperationContext, type OperationResult } from "./context.ts";

const FINISHED = new Set(["Completed", "Failed", "Aborted"]);

interface TestRunRow {
  Status: string;
  ClassesCompleted: number;
  ClassesEnqueued: number;
  MethodsCompleted: number;
  MethodsEnqueued: number;
  MethodsFailed: number;
  TestTime: number | null;
}
interface TestResultRow {
  ApexClass: { Name: string } | null;
  MethodName: string;
  Outcome: string;
  Message: string | null;
  StackTrace: string | null;
  RunTime: number | null;
}

const quoteId = (id: string) => {
  if (!/^[A-Za-z0-9]{15,18}$/.test(id)) throw new OperationError("salesforce_error", "runTestsAsynchronous returned an unexpected job id");
  return `'${id}'`;
};

export async function runTests(ctx: OperationContext, payload: RunTestsPayload): Promise<OperationResult> {
  const request = {
    testLevel: payload.testLevel,
    ...(payload.classNames?.length ? { classNames: payload.classNames.join(",") } : {}),
    ...(payload.suiteNames?.length ? { suiteNames: payload.suiteNames.join(",") } : {}),
    ...(payload.skipCodeCoverage !== undefined ? { skipCodeCoverage: payload.skipCodeCoverage } : {}),
  };
  const jobId = String(await ctx.conn.tooling.runTestsAsynchronous(request));
  ctx.log(`test run started: ${jobId} (${payload.testLevel})`);
  quoteId(jobId);
  await recordCheckpoint(ctx, { operation: "run-tests", salesforceId: jobId });
  return followTestRun(ctx, jobId);
}

/** Polls a started Apex test run until it is done, then reads its results. */
export async function followTestRun(ctx: OperationContext, jobId: string): Promise<OperationResult> {
  let last = "";
  for (;;) {
    try {
      await pause(ctx);
    } catch (err) {
      if (err instanceof CanceledError) return abortRun(ctx, jobId);
      throw err;
    }
    const { records } = await ctx.conn.tooling.query<TestRunRow>(
      `SELECT AsyncApexJobId, Status, ClassesCompleted, ClassesEnqueued, MethodsCompleted, MethodsEnqueued, MethodsFailed, TestTime FROM ApexTestRunResult WHERE AsyncApexJobId = ${quoteId(jobId)}`,
    );
    const run = records[0];
    if (!run) continue; // not visible yet
    const message = `${run.ClassesCompleted}/${run.ClassesEnqueued} classes, ${run.MethodsCompleted}/${run.MethodsEnqueued} methods`;
    if (`${run.Status} ${message}` !== last) {
      last = `${run.Status} ${message}`;
      ctx.progress({ percent: percentOf(run.ClassesCompleted, run.ClassesEnqueued), step: run.Status, message });
      ctx.log(`test run ${jobId} ${run.Status}: ${message}`);
    }
    if (!FINISHED.has(run.Status)) continue;

    const rows = await ctx.conn.tooling.query<TestResultRow>(
      `SELECT ApexClass.Name, MethodName, Outcome, Message, StackTrace, RunTime FROM ApexTestResult WHERE AsyncApexJobId = ${quoteId(jobId)}`,
      { autoFetch: true, maxFetch: 50_000 },
    );
    const tests = rows.records.map((r) => ({
      name: r.ApexClass?.Name ?? "?",
      methodName: r.MethodName,
      outcome: r.Outcome,
      ...(r.Message ? { message: r.Message } : {}),
      ...(r.StackTrace ? { stackTrace: r.StackTrace } : {}),
      runTime: r.RunTime,
    }));
    const failures = tests.filter((t) => t.outcome !== "Pass" && t.outcome !== "Skip");
    for (const f of failures) ctx.log(`test failure ${f.name}.${f.methodName}: ${f.message ?? f.outcome}`);
    const result = {
      jobId,
      status: run.Status,
      numTestsRun: tests.length,
      numFailures: failures.length,
      testTime: run.TestTime,
      failures,
      successes: tests.filter((t) => t.outcome === "Pass").map((t) => ({ name: t.name, methodName: t.methodName, runTime: t.runTime })),
    };
    if (run.Status !== "Completed") throw new OperationError("tests_failed", `test run ${jobId} ${run.Status}`, result);
    if (failures.length) throw new OperationError("tests_failed", `${failures.length} of ${tests.length} test(s) failed`, result);
    return { outcome: "succeeded", result };
  }
}

/** A cancel aborts the run's queued and running classes (ApexTestQueueItem.Status = Aborted). */
async function abortRun(ctx: OperationContext, jobId: string): Promise<OperationResult> {
  const { records } = await ctx.conn.query<{ Id: string }>(
    `SELECT Id FROM ApexTestQueueItem WHERE ParentJobId = ${quoteId(jobId)} AND Status IN ('Holding', 'Queued', 'Preparing', 'Processing')`,
  );
  let aborted = 0;
  if (records.length) {
    const saved = await ctx.conn.sobject("ApexTestQueueItem").update(records.map((r) => ({ Id: r.Id, Status: "Aborted" })));
    aborted = saved.filter((s) => s.success).length;
  }
  ctx.log(`test run ${jobId} canceled: ${aborted} queued class(es) aborted`);
  return { outcome: "canceled", result: { jobId, abortedClasses: aborted }, error: { code: "canceled", message: `test run ${jobId} was canceled` } };
}
