// One job, start to finish, inside the worker process: validate the payload, ask the manager for the
// task's org just in time (the worker holds no credential store), connect, run the operation, and
// report through `send` — every event and the final message masked for every secret held. Secrets
// are dropped before it returns.
import type { CheckpointFields } from "../../protocol/checkpoint.ts";
import type { Progress, Task } from "../../protocol/task.ts";
import { orgAuthSecrets, type OrgAuth } from "../credentials/auth-url.ts";
import { rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { Artifact } from "../../protocol/artifacts.ts";
import type { SourcePayload } from "../../protocol/payloads.ts";
import type { SourceSettings, WorkerToManager } from "../ipc.ts";
import { createMasker } from "../mask.ts";
import { connectOrg, type OrgSession } from "../salesforce/connect.ts";
import type { OperationResult } from "../salesforce/context.ts";
import { toOperationError } from "../salesforce/errors.ts";
import { runOperation, validatePayload } from "../salesforce/index.ts";
import type { ZipFetchPolicy } from "../salesforce/zip-fetch.ts";

import { createJobOutput } from "./job-output.ts";

export const DEFAULT_POLL_INTERVAL_MS = 2000;

export interface JobIo {
  send(msg: WorkerToManager): void;
  /** A structured diagnostic line for the worker's stderr (already masked). */
  diag(fields: Record<string, unknown>): void;
  /** Asks the manager for the task's org; an OperationError when it has none or refuses. */
  auth(org: { project: string; alias: string }): Promise<OrgAuth>;
  /** Asks the manager to upload a file of the job's artifact directory as the task's artifact `name`. */
  artifact(name: string, path: string, contentType: string): Promise<Artifact>;
  /** Asks the manager for the token of the repository the task's `source` names (null: none registered). */
  repo(url: string): Promise<{ token: string; username?: string } | null>;
  /** Tells the manager a secret learned here (a fresh access token), to mask in this worker's output. */
  secret(value: string): void;
  /** Records the Salesforce job this attempt started on the task, through the manager; true once the edge stored it. */
  checkpoint(fields: CheckpointFields): Promise<boolean>;
}

export async function runJob(
  task: Task,
  io: JobIo,
  opts: { signal: AbortSignal; pollIntervalMs?: number; source?: SourceSettings; zipPolicy?: ZipFetchPolicy; artifactDir?: string },
): Promise<Extract<WorkerToManager, { type: "done" }>> {
  const masker = createMasker();
  // Masked before clipped, log lines as one stream (job-output.ts).
  const output = createJobOutput(masker, (event) => io.send({ type: "event", event }));
  const log = output.log;
  const progress = (p: Progress) => output.progress(p);
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
      onAccessToken: (token) => {
        masker.add(token);
        io.secret(token);
      },
      onRefresh: () => log("Salesforce rejected the session; refreshed it once"),
    });
    diag({ level: "info", msg: "connected", instanceUrl: session.conn.instanceUrl });
    result = await runOperation(task.type, task.payload, {
      conn: session.conn,
      signal: opts.signal,
      progress,
      log,
      pollIntervalMs: opts.pollIntervalMs ?? DEFAULT_POLL_INTERVAL_MS,
      // The log lines before a checkpoint go first, so that the events keep their order.
      checkpoint: (fields) => {
        output.flush();
        return io.checkpoint(fields);
      },
      ...(task.checkpoint ? { resume: task.checkpoint } : {}),
      ...(opts.source ? { prepareSource: sourcePreparer(opts.source, { io, masker, log, signal: opts.signal }) } : {}),
      zipPolicy: opts.zipPolicy,
      ...(opts.artifactDir ? { storeArtifact: artifactStore(opts.artifactDir, io) } : {}),
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
  output.flush();
  diag({ level: result.outcome === "failed" ? "warn" : "info", msg: "done", outcome: result.outcome, code: result.error?.code });
  const done: Extract<WorkerToManager, { type: "done" }> = masker.maskDeep({
    type: "done",
    outcome: result.outcome,
    ...(result.result !== undefined ? { result: result.result } : {}),
    ...(result.error ? { error: { code: result.error.code, message: output.errorMessage(result.error.message) } } : {}),
  });
  masker.clear();
  return done;
}

/**
 * How this job fetches and converts its `source`: the repository's token is asked for only now, masked
 * from then on, and given to git's credential helper alone (runner/source/README.md). The libraries
 * (source-deploy-retrieve, sfdx-git-delta) load on first use, so jobs without a source never pay for them.
 */
function sourcePreparer(
  settings: SourceSettings,
  job: { io: JobIo; masker: ReturnType<typeof createMasker>; log: (line: string) => void; signal: AbortSignal },
) {
  return async (source: SourcePayload) => {
    const credential = await job.io.repo(source.repo);
    if (credential) {
      job.masker.add(credential.token);
      job.log(`repository ${source.repo}: using its registered token`);
    } else job.log(`repository ${source.repo}: no token registered, fetching without one`);
    const { prepareSourceDeploy } = await import("../source/index.ts");
    return prepareSourceDeploy({
      source,
      ...(credential ? { token: credential.token, ...(credential.username ? { username: credential.username } : {}) } : {}),
      cacheDir: settings.cacheDir,
      workDir: tmpdir(),
      signal: job.signal,
      onProgress: (p) => job.log(`${p.stage}: ${p.message}`),
      allowLocalHttp: settings.allowLocalHttp,
      allowedHosts: settings.allowedHosts,
    });
  };
}

/** Writes an artifact into the job's artifact directory, has the manager upload it, then removes it. */
function artifactStore(dir: string, io: JobIo) {
  return async (name: string, data: Buffer, contentType: string): Promise<Artifact> => {
    const path = join(dir, name);
    await writeFile(path, data, { mode: 0o600 });
    try {
      return await io.artifact(name, path, contentType);
    } finally {
      await rm(path, { force: true });
    }
  };
}
