// The messages between the runner manager and the one worker process it spawns per job, over the
// Node IPC channel (never argv or environment: the job and its org's credentials are secret).
// The worker holds no credential store: after `start` it asks for its task's org (`auth`) and the
// manager answers with that org's auth alone, once; a deploy from a repository asks for that
// repository's token (`repo`) the same way; any other ask is refused (runner/README.md).
import type { CheckpointFields, Task, TaskErrorInfo } from "../protocol/index.ts";
import type { Artifact } from "../protocol/artifacts.ts";
import type { RunnerEvent } from "../protocol/runner.ts";
import type { OrgAuth } from "./credentials/auth-url.ts";
import type { ZipFetchPolicy } from "./salesforce/zip-fetch.ts";

/** A runner event before the manager numbers it for the edge (the manager owns seq and batching). */
export type WorkerEvent = WithoutSeq<RunnerEvent>;
// Distributes over the union, so each event kind keeps its own fields.
type WithoutSeq<E> = E extends { seq: number } ? Omit<E, "seq"> : never;

/** The manager's answer to an `auth` ask: the org's auth, or why not (a task error code and message). */
export type AuthAnswer = { type: "auth"; auth: OrgAuth } | { type: "auth"; error: TaskErrorInfo };

/** The answer to an `artifact` ask: what the edge stored, or why not. */
export type ArtifactAnswer = { type: "artifact"; name: string; artifact: Artifact } | { type: "artifact"; name: string; error: TaskErrorInfo };

/** The answer to a `repo` ask: the repository's token, none (`null`: a public repository), or why not. */
export type RepoAnswer = { type: "repo"; credential: { token: string; username?: string } | null } | { type: "repo"; error: TaskErrorInfo };

/** The host's settings for deploys from a repository (runner/source), from the manager's configuration. */
export interface SourceSettings {
  /** The host's checkout cache: one bare mirror per repository, shared by its jobs. */
  cacheDir: string;
  /** Plain http to a loopback repository (local development and tests). */
  allowLocalHttp: boolean;
  /** Hosts fetched from even when they resolve to private addresses (SFP_SOURCE_ALLOWED_HOSTS); absent: none. */
  allowedHosts?: string[];
}

export type ManagerToWorker =
  | {
      type: "start";
      task: Task;
      /** Between two status checks of a Salesforce async job (default 2000 ms); tests make it short. */
      pollIntervalMs?: number;
      /** Where the worker writes files it asks the manager to upload as artifacts (a retrieve's). */
      artifactDir?: string;
      /** For a deploy or validate from a repository. */
      source?: SourceSettings;
      /** Where a deploy's zipUrl may be downloaded from (the manager's settings; strict when absent). */
      zipPolicy?: ZipFetchPolicy;
    }
  | AuthAnswer
  | RepoAnswer
  | ArtifactAnswer
  /** The answer to a `checkpoint`: whether the edge stored it (the worker goes on only then). */
  | { type: "checkpoint"; ref: number; stored: boolean }
  /** With `leave` (the lease is lost): a Salesforce job already checkpointed is left running for the next attempt. */
  | { type: "cancel"; reason: string; leave?: boolean };

export type WorkerToManager =
  | { type: "ready" }
  /** Asks for the credentials of the task's org (project and alias as the task names them). */
  | { type: "auth"; project: string; alias: string }
  /** Asks for the token of the repository the task's `source` names (once, after `start`). */
  | { type: "repo"; url: string }
  /** Asks the manager to upload a file of its artifact directory as the task's artifact `name`. */
  | { type: "artifact"; name: string; path: string; contentType: string }
  /** Secrets the worker learned (a fresh access token): the manager masks them in the worker's output. */
  | { type: "secrets"; values: string[] }
  | { type: "event"; event: WorkerEvent }
  /** The Salesforce job this attempt started: the manager sends it to the edge at once and answers. */
  | { type: "checkpoint"; ref: number; checkpoint: CheckpointFields }
  | { type: "done"; outcome: "succeeded" | "failed" | "canceled"; result?: unknown; error?: TaskErrorInfo };
