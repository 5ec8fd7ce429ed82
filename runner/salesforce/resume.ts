// Resume, don't repeat (issue 13): an attempt whose task carries a checkpoint of an earlier attempt
// (protocol/checkpoint.ts) follows that Salesforce job instead of starting another — still running, it
// polls on; finished, it reports that result. Only without a checkpoint does an operation start anew.
import { QUICK_DEPLOY_UNCERTAIN } from "../../protocol/checkpoint.ts";
import type { TaskType } from "../../protocol/task.ts";
import { OperationError, type OperationContext, type OperationResult } from "./context.ts";
import { followDeploy } from "./deploy.ts";
import { followRetrieve } from "./retrieve.ts";
import { followTestRun } from "./run-tests.ts";

/** The earlier attempt's job followed to its end, or undefined when there is none to follow (start anew). */
export async function resumeCheckpoint(type: TaskType, ctx: OperationContext): Promise<OperationResult | undefined> {
  const cp = ctx.resume;
  if (!cp || cp.operation !== type) return undefined;
  const id = cp.salesforceId;
  if (!id) {
    if (type !== "quick-deploy") return undefined;
    throw new OperationError(
      QUICK_DEPLOY_UNCERTAIN,
      `attempt ${cp.attempt} was submitting this quick-deploy when its runner was lost: Salesforce may have taken it, so it is not submitted again (see the org's Deployment Status, then create a new task if it is not there)`,
    );
  }
  ctx.log(`resuming ${type} ${id}, started by attempt ${cp.attempt}: following it, not starting another`);
  const result = await follow(type, ctx, id);
  // Canceled in Salesforce, not by this task (whose cancel aborts the signal): `canceled` answers only a client's cancel.
  if (result?.outcome === "canceled" && !ctx.signal.aborted) {
    const code = type === "run-tests" ? "tests_failed" : "deploy_failed";
    return { ...result, outcome: "failed", error: { code, message: `${type} ${id} was canceled in Salesforce` } };
  }
  return result;
}

async function follow(type: TaskType, ctx: OperationContext, id: string): Promise<OperationResult | undefined> {
  switch (type) {
    case "deploy":
    case "validate":
    case "quick-deploy":
      return followDeploy(ctx, id);
    case "run-tests":
      return followTestRun(ctx, id);
    case "retrieve":
      try {
        return await followRetrieve(ctx, id);
      } catch (err) {
        // Salesforce forgets a retrieve once its zip was taken; reading again changes nothing, so it starts anew.
        if (!(err instanceof Error) || !/INVALID_ID_FIELD/.test(`${err.name} ${err.message}`)) throw err;
        ctx.log(`retrieve ${id} is no longer known to Salesforce: starting a new one`);
        return undefined;
      }
    default:
      return undefined;
  }
}
