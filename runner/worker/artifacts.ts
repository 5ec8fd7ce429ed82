// Uploads a file a job produced (a retrieved package, a full DeployResult, a test report) as an
// artifact of its task (docs/API.md "Artifacts"): streamed from disk with its size as Content-Length,
// never read into memory. Only the live lease may upload, so a worker uploads before it finishes.
import { createReadStream } from "node:fs";
import { stat } from "node:fs/promises";
import { isArtifactName, type Artifact } from "../../protocol/artifacts.ts";
import { EdgeError, type EdgeClient } from "../../protocol/client.ts";

/** The job's side of the edge: a client holding the job token, and the lease epoch it was granted for. */
export interface JobClient {
  client: EdgeClient;
  leaseEpoch: number;
}

/** Network failures, 429 and 5xx are tried again (the upload replaces by name, so a retry is safe). */
const ATTEMPTS = 3;
const RETRY_BASE_MS = 1000;
const RETRY_MAX_MS = 10_000;

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
  for (let attempt = 1; ; attempt++) {
    const { size } = await stat(filePath);
    const file = createReadStream(filePath);
    try {
      const { artifact } = await job.client.putArtifact(taskId, name, file, { size, leaseEpoch: job.leaseEpoch, contentType, signal: opts.signal });
      return artifact;
    } catch (err) {
      if (attempt >= ATTEMPTS || opts.signal?.aborted || !retryable(err)) throw err;
      const wait = err instanceof EdgeError && err.retryAfter ? err.retryAfter * 1000 : RETRY_BASE_MS * 2 ** (attempt - 1);
      await new Promise((resolve) => setTimeout(resolve, Math.min(wait, RETRY_MAX_MS)));
    } finally {
      file.destroy();
    }
  }
}

function retryable(err: unknown): boolean {
  return err instanceof EdgeError && (err.status === 0 || err.status === 429 || err.status >= 500);
}
