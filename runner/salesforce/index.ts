// One entry for every task type: validates the payload, runs the operation, maps failures.
import type { TaskType } from "../../protocol/task.ts";
import {
  PAYLOAD_SCHEMAS,
  QuickDeployPayload,
  QueryPayload,
  RetrievePayload,
  RunTestsPayload,
  OrgCheckPayload,
  DeployPayload,
} from "../../protocol/payloads.ts";
import { CanceledError, OperationError, type OperationContext, type OperationResult } from "./context.ts";
import { runDeploy, runQuickDeploy } from "./deploy.ts";
import { toOperationError } from "./errors.ts";
import { runOrgCheck } from "./org-check.ts";
import { runQuery } from "./query.ts";
import { resumeCheckpoint } from "./resume.ts";
import { runRetrieve } from "./retrieve.ts";
import { runTests } from "./run-tests.ts";

export { connectOrg, DEFAULT_API_VERSION, MAX_SESSION_REFRESHES } from "./connect.ts";
export type { OperationContext, OperationResult } from "./context.ts";

/** Checks a task's payload against its type's schema; the message names the field. */
export function validatePayload(type: TaskType, payload: unknown): void {
  const parsed = PAYLOAD_SCHEMAS[type].safeParse(payload ?? {});
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    const field = issue?.path.length ? `payload.${issue.path.join(".")}` : "payload";
    throw new OperationError("invalid_payload", `${field}: ${issue?.message ?? "invalid"}`);
  }
}

async function dispatch(type: TaskType, payload: unknown, ctx: OperationContext): Promise<OperationResult> {
  const resumed = await resumeCheckpoint(type, ctx);
  if (resumed) return resumed;
  switch (type) {
    case "deploy":
      return runDeploy(ctx, DeployPayload.parse(payload), "deploy");
    case "validate":
      return runDeploy(ctx, DeployPayload.parse(payload), "validate");
    case "quick-deploy":
      return runQuickDeploy(ctx, QuickDeployPayload.parse(payload));
    case "retrieve":
      return runRetrieve(ctx, RetrievePayload.parse(payload));
    case "run-tests":
      return runTests(ctx, RunTestsPayload.parse(payload));
    case "query":
      return runQuery(ctx, QueryPayload.parse(payload));
    case "org-check":
      return runOrgCheck(ctx, OrgCheckPayload.parse(payload ?? {}));
  }
}

/** Runs one operation; never throws: every failure becomes an outcome with an error code. */
export async function runOperation(type: TaskType, payload: unknown, ctx: OperationContext): Promise<OperationResult> {
  try {
    validatePayload(type, payload);
    return await dispatch(type, payload ?? {}, ctx);
  } catch (err) {
    if (err instanceof CanceledError || (ctx.signal.aborted && !(err instanceof OperationError))) {
      return { outcome: "canceled", error: { code: "canceled", message: "the job was canceled" } };
    }
    const e = toOperationError(err);
    return { outcome: "failed", error: { code: e.code, message: e.message }, ...(e.result !== undefined ? { result: e.result } : {}) };
  }
}
