// A job's artifacts, relayed for its worker: the worker (which never holds the job token) writes a
// file into the job's own artifact directory and names it over IPC; the manager uploads it with the
// job token. Only a regular file directly inside that directory is taken — a worker cannot make the
// manager upload anything else it can read (the credential store's file, its state file).
import { mkdtempSync } from "node:fs";
import { lstat, realpath, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { basename, dirname, join } from "node:path";
import type { ArtifactAnswer } from "../ipc.ts";
import { uploadArtifact, type JobClient } from "./artifacts.ts";
import type { Logger } from "./log.ts";

export class JobArtifacts {
  /** Created on first use; removed with everything in it when the job ends. */
  private dir?: string;
  private readonly taskId: string;
  private readonly job: JobClient;
  private readonly log: Logger;

  constructor(taskId: string, job: JobClient, log: Logger) {
    this.taskId = taskId;
    this.job = job;
    this.log = log;
  }

  /** The directory the worker writes its artifacts into (mode 0700). */
  directory(): string {
    this.dir ??= mkdtempSync(join(tmpdir(), "sfp-artifacts-"));
    return this.dir;
  }

  /** Uploads the file the worker named, if it is one of its own; the answer says what the edge stored, or why not. */
  async answer(ask: { name: string; path: string; contentType: string }, signal: AbortSignal): Promise<ArtifactAnswer> {
    const refuse = (message: string): ArtifactAnswer => ({ type: "artifact", name: ask.name, error: { code: "artifact_failed", message } });
    if (!this.dir) return refuse("the job has no artifact directory");
    try {
      const [real, home, info] = await Promise.all([realpath(ask.path), realpath(this.dir), lstat(ask.path)]);
      if (dirname(real) !== home || basename(real) !== basename(ask.path) || !info.isFile())
        return refuse("an artifact must be a file in the job's artifact directory");
      const artifact = await uploadArtifact(this.job, this.taskId, ask.name, real, ask.contentType, { signal });
      this.log.info("artifact stored", { name: ask.name, size: artifact.size });
      return { type: "artifact", name: ask.name, artifact };
    } catch (err) {
      const message = err instanceof Error ? err.message : String(err);
      this.log.warn("artifact not stored", { name: ask.name, message });
      return refuse(`artifact ${ask.name} not stored: ${message}`);
    }
  }

  async cleanup(): Promise<void> {
    if (this.dir) await rm(this.dir, { recursive: true, force: true });
  }
}
