// Uploads a file a job produced (a retrieved package, a full DeployResult, a test report) as an
// artifact of its task (docs/API.md "Artifacts"): streamed from disk with its size as Content-Length,
// never read into memory. The manager does it for its worker (the worker never holds the job token):
// the worker writes the file and names it over IPC; only the live lease may upload, so it happens
// before the finish.
import { createReadStream } from "node:fs";
import { stat } from "node:fs/promises";
import { isArtifactName, type Artifact } from "../../protocol/artifacts.ts";
import type { EdgeClient } from "../../protocol/client.ts";
import { withRetry } from "../../protocol/retry.ts";
import { RETRY } from "./config.ts";

/** The job's side of the edge: a client, the job token (unless the client holds it), the lease epoch. */
export interface JobClient {
  client: EdgeClient;
  leaseEpoch: number;
  token?: string;
}

/** Uploads `filePath` as the artifact `name` of `taskId`; answers what the edge stored (its sha256 included). */
export async function uploadArtifact(
  job: JobClient,
  taskId: string,
  name: string,
  filePath: string,
  contentType: string,
  opts: { signal?: AbortSignal } = {},
): Promise<Artifact> {
  if (!isArtifactName(name)) throw new Error(`artifact name ${JSON.stringify(name)}: 1–128 letters, digits, '.', '_' or '-', starting with a letter or digit`);
  // The upload replaces by name, so another attempt is safe.
  return withRetry(
    RETRY.artifact,
    async () => {
      const { size } = await stat(filePath);
      const file = createReadStream(filePath);
      try {
        const { artifact } = await job.client.putArtifact(taskId, name, file, {
          size,
          leaseEpoch: job.leaseEpoch,
          contentType,
          signal: opts.signal,
          ...(job.token ? { token: job.token } : {}),
        });
        return artifact;
      } finally {
        file.destroy();
      }
    },
    { signal: opts.signal },
  );
}
