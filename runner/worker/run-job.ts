// One job, start to finish, inside the worker process: validate the payload, ask the manager for the
// task's org just in time (the worker holds no credential store), connect, run the operation, and
// report through `send` — every event and the final message masked for every secret held. Secrets
// are dropped before it returns.
import type { Progress, Task } from "../../protocol/task.ts";
import { orgAuthSecrets, type OrgAuth } from "../credentials/auth-url.ts";
import type { WorkerToManager } from "../ipc.ts";
import { createMasker } from "../mask.ts";
import { connectOrg, type OrgSession } from "../salesforce/connect.ts";
import type { OperationResult } from "../salesforce/context.ts";
import { toOperationError } from "../salesforce/errors.ts";
import { runOperation, validatePayload } from "../salesforce/index.ts";

export const DEFAULT_POLL_INTERVAL_MS = 2000;
/** The contract's bounds on a runner event (protocol/runner.ts RunnerEvent). */
const MAX_LINE = 16_384;
const MAX_LINES_PER_EVENT = 1000;
const MAX_STEP = 200;
const MAX_MESSAGE = 2000;
const MAX_ERROR_MESSAGE = 10_000;

export interface JobIo {
  send(msg: WorkerToManager): void;
  /** A structured diagnostic line for the worker's stderr (already masked). */
  diag(fields: Record<string, unknown>): void;
  /** Asks the manager for the task's org; an OperationError when it has none or refuses. */
  auth(org: { project: string; alias: string }): Promise<OrgAuth>;
}

const clip = (s: string, n: number) => (s.length > n ? `${s.slice(0, n - 1)}…` : s);

export async function runJob(
  task: Task,
  io: JobIo,
  opts: { signal: AbortSignal; pollIntervalMs?: number },
): Promise<Extract<WorkerToManager, { type: "done" }>> {
  const masker = createMasker();
  const emit = (event: Extract<WorkerToManager, { type: "event" }>["event"]) => io.send({ type: "event", event: masker.maskDeep(event) });
  const log = (...lines: string[]) => {
    const clipped = lines.map((l) => clip(l, MAX_LINE));
    for (let i = 0; i < clipped.length; i += MAX_LINES_PER_EVENT) emit({ type: "log", lines: clipped.slice(i, i + MAX_LINES_PER_EVENT) });
  };
  const progress = (p: Progress) =>
    emit({
      type: "progress",
      ...(p.percent !== undefined ? { percent: Math.max(0, Math.min(100, p.percent)) } : {}),
      ...(p.step !== undefined ? { step: clip(p.step, MAX_STEP) } : {}),
      ...(p.message !== undefined ? { message: clip(p.message, MAX_MESSAGE) } : {}),
    });
  const diag = (fields: Record<string, unknown>) => io.diag(masker.maskDeep({ taskId: task.id, ...fields }));

  let auth: OrgAuth | null = null;
  let session: OrgSession | null = null;
  let result: OperationResult;
  try {
    validatePayload(task.type, task.payload);
    auth = await io.auth({ project: task.project, alias: task.org });
    masker.add(...orgAuthSecrets(auth));
    log(`${task.type} on ${task.org} (${auth.instanceUrl})`);
    session = await connectOrg(auth, {
      onAccessToken: (token) => masker.add(token),
      onRefresh: () => log("Salesforce rejected the session; refreshed it once"),
    });
    diag({ level: "info", msg: "connected", instanceUrl: session.conn.instanceUrl });
    result = await runOperation(task.type, task.payload, {
      conn: session.conn,
      signal: opts.signal,
      progress,
      log,
      pollIntervalMs: opts.pollIntervalMs ?? DEFAULT_POLL_INTERVAL_MS,
    });
  } catch (err) {
    const e = toOperationError(err, "internal");
    result =
      opts.signal.aborted && e.code === "internal"
        ? { outcome: "canceled", error: { code: "canceled", message: "the job was canceled" } }
        : { outcome: "failed", error: { code: e.code, message: e.message }, ...(e.result !== undefined ? { result: e.result } : {}) };
  } finally {
    session?.clear();
    session = null;
    auth = null;
  }
  diag({ level: result.outcome === "failed" ? "warn" : "info", msg: "done", outcome: result.outcome, code: result.error?.code });
  const done: Extract<WorkerToManager, { type: "done" }> = masker.maskDeep({
    type: "done",
    outcome: result.outcome,
    ...(result.result !== undefined ? { result: result.result } : {}),
    ...(result.error ? { error: { code: result.error.code, message: clip(result.error.message, MAX_ERROR_MESSAGE) } } : {}),
  });
  masker.clear();
  return done;
}
