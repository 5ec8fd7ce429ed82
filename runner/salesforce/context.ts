// What every Salesforce operation gets (a connection, a cancel signal, a way to report) and how it
// ends (an outcome with a result, or an OperationError carrying the contract's error code).
import { setTimeout as sleepFor } from "node:timers/promises";
import type { Connection } from "jsforce";
import type { Checkpoint, CheckpointFields } from "../../protocol/checkpoint.ts";
import type { SourcePayload } from "../../protocol/payloads.ts";
import type { Artifact } from "../../protocol/artifacts.ts";
import type { Progress } from "../../protocol/task.ts";
import type { PreparedSourceDeploy, SourceErrorCode } from "../source/index.ts";
import type { ZipFetchPolicy } from "./zip-fetch.ts";

export type Outcome = "succeeded" | "failed" | "canceled";

export interface OperationResult {
  outcome: Outcome;
  result?: unknown;
  error?: { code: string; message: string };
}

export interface OperationContext {
  conn: Connection;
  /** Aborted when the manager cancels the job. */
  signal: AbortSignal;
  progress(p: Progress): void;
  log(...lines: string[]): void;
  /** Between two status checks of an async Salesforce job. */
  pollIntervalMs: number;
  /** Stores a file as the task's artifact `name` (through the manager); absent where the job has no artifact directory. */
  storeArtifact?: (name: string, data: Buffer, contentType: string) => Promise<Artifact>;
  /** Fetches and converts a deploy's `source` (runner/source); absent where the worker has no source settings. */
  prepareSource?: (source: SourcePayload) => Promise<PreparedSourceDeploy>;
  /** Where a deploy's `zipUrl` may be downloaded from; strict (https, public hosts) when absent. */
  zipPolicy?: ZipFetchPolicy;
  /** Records the Salesforce job just started as the task's checkpoint; true once the edge stored it. */
  checkpoint?: (fields: CheckpointFields) => Promise<boolean>;
  /** The task's checkpoint from an earlier attempt: its Salesforce job is followed, not started again (resume.ts). */
  resume?: Checkpoint;
}

/** Error codes a job can fail with (task.error.code). */
export type OperationErrorCode =
  | "invalid_payload"
  | "credentials_not_found"
  | "credentials_unavailable"
  | "auth_failed"
  | "session_expired"
  | "zip_unavailable"
  | "deploy_failed"
  | "tests_failed"
  | "retrieve_failed"
  | "query_failed"
  | "salesforce_error"
  | "internal"
  /** A result too big to report could not be stored as an artifact either. */
  | "artifact_failed"
  /** Resume (resume.ts, protocol/checkpoint.ts): a quick-deploy is never submitted twice. */
  | "quick_deploy_uncertain"
  | "checkpoint_failed"
  /** A deploy from a repository (runner/source/errors.ts says when each applies). */
  | SourceErrorCode;

export class OperationError extends Error {
  readonly code: OperationErrorCode;
  readonly result?: unknown;
  constructor(code: OperationErrorCode, message: string, result?: unknown) {
    super(message);
    this.name = "OperationError";
    this.code = code;
    this.result = result;
  }
}

export class CanceledError extends Error {
  constructor() {
    super("canceled");
    this.name = "CanceledError";
  }
}

/**
 * Records a Salesforce job just started as the task's checkpoint (resume.ts). One that does not reach
 * the edge costs only the resume: the job goes on; a quick-deploy's intent is the exception (deploy.ts).
 */
export async function recordCheckpoint(ctx: OperationContext, fields: CheckpointFields): Promise<boolean> {
  if (!ctx.checkpoint) return false;
  const stored = await ctx.checkpoint(fields);
  if (!stored) ctx.log(`the checkpoint of ${fields.operation} ${fields.salesforceId ?? ""} did not reach the edge: a later attempt cannot resume it`);
  return stored;
}

/** Waits between polls; a cancel ends the wait at once (CanceledError). */
export async function pause(ctx: OperationContext): Promise<void> {
  if (ctx.signal.aborted) throw new CanceledError();
  try {
    await sleepFor(ctx.pollIntervalMs, undefined, { signal: ctx.signal });
  } catch {
    throw new CanceledError();
  }
}

export function percentOf(done: number, total: number): number {
  if (total <= 0) return 0;
  return Math.max(0, Math.min(100, Math.round((done / total) * 100)));
}
