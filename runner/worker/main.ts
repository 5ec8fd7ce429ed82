// The worker process: one job, then exit. The manager forks this file with an IPC channel and a
// sanitized environment; the job and its org's credentials arrive only over IPC (runner/ipc.ts).
//   worker → ready; manager → start; worker → auth; manager → auth; worker → event…; worker → done.
// A cancel message, SIGTERM, or the manager going away cancels the job (cancelDeploy for a deploy).
import type { OrgAuth } from "../credentials/auth-url.ts";
import type { Artifact } from "../../protocol/artifacts.ts";
import type { ArtifactAnswer, AuthAnswer, ManagerToWorker, RepoAnswer, WorkerToManager } from "../ipc.ts";
import { PendingAsks } from "./asks.ts";
import type { CheckpointFields } from "../../protocol/checkpoint.ts";

/**
 * No start message within this time means the manager is gone or confused. A warm spare waits for its
 * job up to the manager's TIMING.spareMaxIdleMs (10 min) before the manager replaces it: this is longer.
 * (A manager that dies is noticed sooner: the IPC channel disconnects.)
 */
export const START_TIMEOUT_MS = 15 * 60_000;
/** After the manager disconnects, how long the job may take to cancel before the process exits. */
const ORPHAN_GRACE_MS = 10_000;
const EXIT_NO_IPC = 2;
const EXIT_NO_START = 3;

// jsforce reads its log level once, when loaded: keep its debug output (which shows requests) off.
process.env.JSFORCE_LOG_LEVEL = "NONE";
const { runJob, DEFAULT_POLL_INTERVAL_MS } = await import("./run-job.ts");
const { OperationError } = await import("../salesforce/context.ts");

// The manager reads these pipes: once it is gone (killed), a write fails with EPIPE, which would
// otherwise become an uncaught exception and end the worker before it cancels its Salesforce job.
for (const stream of [process.stdout, process.stderr]) stream.on("error", () => {});

const diag = (fields: Record<string, unknown>) =>
  process.stderr.write(`${JSON.stringify({ at: new Date().toISOString(), component: "worker", pid: process.pid, ...fields })}\n`);

if (!process.send) {
  diag({ level: "error", msg: "the worker must be forked by the manager with an IPC channel" });
  process.exit(EXIT_NO_IPC);
}

const send = (msg: WorkerToManager): Promise<void> =>
  new Promise((resolve) => {
    if (!process.connected || !process.send) return resolve();
    process.send(msg, undefined, {}, () => resolve());
  });

const cancel = new AbortController();
let started = false;
let finishing = false;
/** Questions to the manager waiting for its answers (asks.ts). */
const asks = new PendingAsks();
let checkpointRefs = 0;
/** The Salesforce job the edge holds as this task's checkpoint: when the lease is lost it is left running for the next attempt. */
let checkpointed: string | undefined;

/** Sends a checkpoint through the manager to the edge; true once the edge stored it. */
function checkpoint(fields: CheckpointFields): Promise<boolean> {
  if (!process.connected) return Promise.resolve(false);
  const ref = ++checkpointRefs;
  return asks
    .ask(
      `checkpoint:${ref}`,
      () => void send({ type: "checkpoint", ref, checkpoint: fields }),
      () => ({ type: "checkpoint" as const, ref, stored: false }),
    )
    .then(({ stored }) => {
      if (stored && fields.salesforceId) checkpointed = fields.salesforceId;
      return stored;
    });
}

/** Leaves the checkpointed Salesforce job to the task's next attempt: exits without canceling it. */
function leaveCheckpointed(why: string): void {
  diag({ level: "warn", msg: `${why}; leaving Salesforce job ${checkpointed} to the next attempt` });
  process.exit(0);
}

/** Asks the manager for the task's org: its answer is that org's auth alone, or why not. */
function askAuth(org: { project: string; alias: string }): Promise<OrgAuth> {
  return asks
    .ask<AuthAnswer>(
      "auth",
      () => void send({ type: "auth", project: org.project, alias: org.alias }),
      () => goneAnswer("auth"),
    )
    .then((answer) => {
      if ("auth" in answer) return answer.auth;
      const code = answer.error.code === "credentials_not_found" ? "credentials_not_found" : "credentials_unavailable";
      throw new OperationError(code, answer.error.message);
    });
}

/** Asks the manager for the token of the repository the task names: the token, none (public), or why not. */
function askRepo(url: string): Promise<{ token: string; username?: string } | null> {
  return asks
    .ask<RepoAnswer>(
      "repo",
      () => void send({ type: "repo", url }),
      () => goneAnswer("repo"),
    )
    .then((answer) => {
      if ("credential" in answer) return answer.credential;
      // The store failed or the ask was refused: git's own refusal of a token is repo_auth, not this.
      throw new OperationError("credentials_unavailable", answer.error.message);
    });
}

/** Has the manager upload a file of the job's artifact directory (it holds the job token, the worker does not). */
function askArtifact(name: string, path: string, contentType: string): Promise<Artifact> {
  return asks
    .ask<ArtifactAnswer>(
      `artifact:${name}`,
      () => void send({ type: "artifact", name, path, contentType }),
      () => ({ type: "artifact", name, error: { code: "artifact_failed", message: "the manager went away" } }),
    )
    .then((answer) => {
      if ("artifact" in answer) return answer.artifact;
      throw new OperationError("artifact_failed", answer.error.message);
    });
}

/** What a credential question gets once the manager is gone. */
function goneAnswer<T extends "auth" | "repo">(type: T) {
  return { type, error: { code: "credentials_unavailable", message: "the manager went away" } };
}

const startTimer = setTimeout(() => {
  diag({ level: "error", msg: "no start message from the manager", timeoutMs: START_TIMEOUT_MS });
  process.exit(EXIT_NO_START);
}, START_TIMEOUT_MS);

process.on("message", (raw: unknown) => {
  const msg = raw as ManagerToWorker;
  if (msg?.type === "auth" || msg?.type === "repo" || msg?.type === "artifact" || msg?.type === "checkpoint") {
    asks.answer(msg);
    return;
  }
  if (msg?.type === "cancel") {
    if (msg.leave && checkpointed) return leaveCheckpointed("the lease is lost");
    diag({ level: "info", msg: "cancel requested", reason: String(msg.reason ?? "") });
    cancel.abort();
    if (!started) process.exit(0);
    return;
  }
  if (msg?.type !== "start" || started) return;
  started = true;
  clearTimeout(startTimer);
  const pollIntervalMs = msg.pollIntervalMs && msg.pollIntervalMs > 0 ? msg.pollIntervalMs : DEFAULT_POLL_INTERVAL_MS;
  void runJob(
    msg.task,
    {
      send: (m) => void send(m),
      diag,
      auth: askAuth,
      repo: askRepo,
      artifact: askArtifact,
      checkpoint,
      secret: (value) => void send({ type: "secrets", values: [value] }),
    },
    {
      signal: cancel.signal,
      pollIntervalMs,
      zipPolicy: msg.zipPolicy,
      ...(msg.source ? { source: msg.source } : {}),
      ...(msg.artifactDir ? { artifactDir: msg.artifactDir } : {}),
    },
  )
    .catch((err: unknown): WorkerToManager => {
      // runJob reports every failure itself; this is a bug in the worker, told without details.
      diag({ level: "error", msg: "runJob threw", name: err instanceof Error ? err.name : typeof err });
      return { type: "done", outcome: "failed", error: { code: "internal", message: "the worker failed unexpectedly" } };
    })
    .then(async (done) => {
      finishing = true;
      await send(done);
      if (process.connected) process.disconnect();
      process.exit(0);
    });
});

process.on("disconnect", () => {
  if (finishing) return;
  // No answer will come: open questions get theirs now (a checkpoint counts as not stored).
  asks.settleAll();
  // The manager is gone: the task's next attempt resumes a checkpointed Salesforce job; anything else is canceled.
  if (checkpointed) return leaveCheckpointed("manager disconnected");
  // Nobody can receive the outcome. Cancel what runs, then leave.
  diag({ level: "warn", msg: "manager disconnected; canceling" });
  cancel.abort();
  setTimeout(() => process.exit(0), ORPHAN_GRACE_MS).unref();
  if (!started) process.exit(0);
});

let terms = 0;
process.on("SIGTERM", () => {
  terms += 1;
  if (terms > 1 || !started) process.exit(143);
  diag({ level: "info", msg: "SIGTERM: canceling" });
  cancel.abort();
});

// An uncaught error must not print a stack holding secrets: report it generically and fail the job.
process.on("uncaughtException", (err) => {
  diag({ level: "error", msg: "uncaught exception", name: err.name });
  void send({ type: "done", outcome: "failed", error: { code: "internal", message: `worker crashed: ${err.name}` } }).then(() => process.exit(1));
});
process.on("unhandledRejection", (reason) => {
  diag({ level: "error", msg: "unhandled rejection", name: reason instanceof Error ? reason.name : typeof reason });
});

await send({ type: "ready" });
