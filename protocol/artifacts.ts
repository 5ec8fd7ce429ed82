// Artifacts (docs/API.md "Artifacts"): what a job produces that is too big for a task's result — a
// retrieved package, a full DeployResult, test reports. A job uploads each under a name; the task
// lists them and its readers download them. The names, limits and shapes every side agrees on.
import { z } from "@hono/zod-openapi";

/** 1–128 characters of letters, digits, `.`, `_`, `-`, starting with a letter or digit: never a path. */
export const ARTIFACT_NAME_MAX = 128;
export const ARTIFACT_NAME_PATTERN = /^[A-Za-z0-9][A-Za-z0-9._-]*$/;

/** Per artifact, unless the Worker variable ARTIFACT_MAX_BYTES says otherwise: Cloudflare's request body limit on the Free and Pro plans. */
export const DEFAULT_ARTIFACT_MAX_BYTES = 100_000_000;
/** All of one task's artifacts together, unless ARTIFACT_TASK_MAX_BYTES says otherwise. */
export const DEFAULT_ARTIFACT_TASK_MAX_BYTES = 1_000_000_000;
export const MAX_ARTIFACTS_PER_TASK = 100;

/** What an upload without a Content-Type is stored as. */
export const DEFAULT_ARTIFACT_CONTENT_TYPE = "application/octet-stream";
export const CONTENT_TYPE_MAX = 200;
// type/subtype with optional parameters, as RFC 9110 spells tokens; nothing that could split a header.
const TOKEN = "[A-Za-z0-9!#$%&'*+.^_`|~-]+";
export const CONTENT_TYPE_PATTERN = new RegExp(`^${TOKEN}/${TOKEN}(\\s*;\\s*${TOKEN}=(${TOKEN}|"[^"\\\\\\r\\n]*"))*$`);

export const ArtifactName = z
  .string()
  .min(1)
  .max(ARTIFACT_NAME_MAX)
  .regex(ARTIFACT_NAME_PATTERN, "letters, digits, '.', '_' or '-', starting with a letter or digit")
  .openapi("ArtifactName");

export const Artifact = z
  .object({
    name: ArtifactName,
    size: z.number().int().min(0),
    sha256: z
      .string()
      .regex(/^[0-9a-f]{64}$/)
      .openapi({ description: "hex SHA-256 of the bytes, computed by the edge while they streamed in; the download's ETag" }),
    contentType: z.string(),
    storedAt: z.string(),
  })
  .openapi("Artifact");
export type Artifact = z.infer<typeof Artifact>;

export const ArtifactList = z.object({ artifacts: z.array(Artifact) }).openapi("ArtifactList");
export type ArtifactList = z.infer<typeof ArtifactList>;

export const ArtifactStored = z.object({ artifact: Artifact }).openapi("ArtifactStored");
export type ArtifactStored = z.infer<typeof ArtifactStored>;

export function isArtifactName(name: string): boolean {
  return name.length >= 1 && name.length <= ARTIFACT_NAME_MAX && ARTIFACT_NAME_PATTERN.test(name);
}

export function isContentType(value: string): boolean {
  return value.length <= CONTENT_TYPE_MAX && CONTENT_TYPE_PATTERN.test(value);
}

/** The path of an artifact under the API, for a task id and an artifact name. */
export function artifactPath(kind: "jobs" | "tasks", taskId: string, name?: string): string {
  const base = `/v1/${kind}/${encodeURIComponent(taskId)}/artifacts`;
  return name === undefined ? base : `${base}/${encodeURIComponent(name)}`;
}
