// The messages between the runner manager and the one worker process it spawns per job, over the
// Node IPC channel (never argv or environment: the job and the credential-store settings are secret).
import type { Task, TaskErrorInfo } from "../protocol/index.ts";
import type { RunnerEvent } from "../protocol/runner.ts";
import type { CredentialsConfig } from "./credentials/config.ts";

/** A runner event before the manager numbers it for the edge (the manager owns seq and batching). */
export type WorkerEvent = WithoutSeq<RunnerEvent>;
// Distributes over the union, so each event kind keeps its own fields.
type WithoutSeq<E> = E extends { seq: number } ? Omit<E, "seq"> : never;

export type ManagerToWorker =
  | {
      type: "start";
      task: Task;
      credentials: CredentialsConfig;
      /** Between two status checks of a Salesforce async job (default 2000 ms); tests make it short. */
      pollIntervalMs?: number;
    }
  | { type: "cancel"; reason: string };

export type WorkerToManager =
  | { type: "ready" }
  | { type: "event"; event: WorkerEvent }
  | { type: "done"; outcome: "succeeded" | "failed" | "canceled"; result?: unknown; error?: TaskErrorInfo };
