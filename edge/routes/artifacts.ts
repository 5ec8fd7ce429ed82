// Artifacts (docs/API.md "Artifacts"): the job of a task's live lease uploads what is too big for a
// result, streamed into the R2 bucket; the task's readers list and download it. The task's actor
// keeps the record (actors/task-artifacts.ts) and refuses anyone but the live lease; the bytes go
// between the request and R2 here (edge/artifact-stream.ts) and never through the actor.
import { createRoute, z } from "@hono/zod-openapi";
import { ApiError, ArtifactList, ArtifactName, ArtifactStored, DEFAULT_ARTIFACT_CONTENT_TYPE, isArtifactName, isContentType } from "../../protocol/index.ts";
import { requireJob, requireProjectToken } from "../auth/middleware.ts";
import { taskActorOf } from "../auth/task-id.ts";
import type { ArtifactUpload } from "../../actors/task-artifacts.ts";
import { requestedRange, storeStreamed } from "../artifact-stream.ts";
import { errorResponse, type AppContext } from "../http.ts";
import { bearerAuth, errors, json, router } from "../openapi.ts";

export const artifacts = router();

const UPLOAD_PATH = /^\/v1\/jobs\/[^/]+\/artifacts\/[^/]+$/;

/** An artifact upload streams a body bigger than the API's 1 MiB: app.ts lets it past that limit. */
export function isArtifactUpload(method: string, path: string): boolean {
  return method === "PUT" && UPLOAD_PATH.test(path);
}

const TaskParam = z.object({ id: z.string().min(1).max(64) });
const taskIdOk = (id: string) => id.length >= 1 && id.length <= 64;
const invalid = (field: string, message: string) => new ApiError("invalid_request", `${field}: ${message}`, { field });
const binary = (description: string) => ({ content: { "application/octet-stream": { schema: z.string().openapi({ format: "binary" }) } }, description });

const uploadRoute = createRoute({
  method: "put",
  path: "/v1/jobs/{taskId}/artifacts/{name}",
  summary: "Upload an artifact (job token of the live lease), streamed; the same name again replaces it",
  description:
    "The body is the artifact's bytes with Content-Length (required) and Content-Type (default application/octet-stream). " +
    "Limits: ARTIFACT_MAX_BYTES per artifact, ARTIFACT_TASK_MAX_BYTES per task, 100 artifacts per task (413). " +
    "409 stale_lease / 410 gone as for the other job calls; an upload that breaks off stores nothing.",
  security: bearerAuth,
  request: {
    params: z.object({ taskId: z.string().min(1).max(64), name: ArtifactName }),
    query: z.object({ leaseEpoch: z.coerce.number().int().min(1) }),
    headers: z.object({ "content-length": z.string(), "content-type": z.string().optional() }),
    body: { content: { "*/*": { schema: z.string().openapi({ format: "binary" }) } }, required: true },
  },
  responses: {
    201: json(ArtifactStored, "stored"),
    200: json(ArtifactStored, "stored, replacing the artifact of the same name"),
    ...errors(400, 401, 403, 404, 409, 410, 413, 429, 503),
  },
});
// Registered for the document, served as a plain route: the body is a byte stream, not JSON.
artifacts.openAPIRegistry.registerPath(uploadRoute);
artifacts.put("/v1/jobs/:taskId/artifacts/:name", async (c) => {
  const taskId = c.req.param("taskId");
  const name = c.req.param("name");
  if (!taskIdOk(taskId)) throw invalid("taskId", "1–64 characters");
  if (!isArtifactName(name)) throw invalid("name", "1–128 letters, digits, '.', '_' or '-', starting with a letter or digit");
  const epochText = c.req.query("leaseEpoch") ?? "";
  if (!/^[1-9]\d{0,14}$/.test(epochText)) throw invalid("leaseEpoch", "the lease epoch, a whole number ≥ 1, is required");
  const leaseEpoch = Number(epochText);
  const job = await requireJob(c, taskId, leaseEpoch);
  const lengthText = c.req.header("content-length") ?? "";
  if (!/^\d{1,15}$/.test(lengthText)) throw invalid("content-length", "required: an artifact is uploaded with its size");
  const size = Number(lengthText);
  const contentType = c.req.header("content-type")?.trim() || DEFAULT_ARTIFACT_CONTENT_TYPE;
  if (!isContentType(contentType)) throw invalid("content-type", "a media type such as application/zip");
  const bucket = bucketOf(c);

  const task = await taskActorOf(c, taskId);
  const upload: ArtifactUpload = await task.beginArtifact(job.project, leaseEpoch, name, size, contentType);
  let sha256: string;
  try {
    sha256 = await storeStreamed(bucket, upload.key, c.req.raw.body, size, contentType);
  } catch (err) {
    await task.abortArtifact(upload.uploadId).catch(() => undefined);
    throw err;
  }
  let recorded: Awaited<ReturnType<typeof task.recordArtifact>>;
  try {
    recorded = await task.recordArtifact(job.project, leaseEpoch, upload, sha256);
  } catch (err) {
    // Not recorded (the lease ended meanwhile, or a limit): its object must not outlive the refusal.
    await bucket.delete(upload.key);
    throw err;
  }
  if (recorded.replacedKey) await bucket.delete(recorded.replacedKey);
  return c.json({ artifact: recorded.artifact }, recorded.created ? 201 : 200);
});

artifacts.openapi(
  createRoute({
    method: "get",
    path: "/v1/tasks/{id}/artifacts",
    summary: "The task's artifacts, by name (any role of the task's project)",
    security: bearerAuth,
    request: { params: TaskParam },
    responses: { 200: json(ArtifactList, "the artifacts"), ...errors(401, 403, 404, 429) },
  }),
  async (c) => {
    const { id } = c.req.valid("param");
    const caller = await requireProjectToken(c, "read", undefined);
    return c.json({ artifacts: await (await taskActorOf(c, id)).listArtifacts(caller.project) }, 200);
  },
);

const downloadRoute = createRoute({
  method: "get",
  path: "/v1/tasks/{id}/artifacts/{name}",
  summary: "Download an artifact (any role of the task's project); `Range: bytes=…` answers 206; ETag is its SHA-256",
  description:
    "One range per request (`bytes=N-`, `bytes=N-M`, `bytes=-N`); one starting at or past the end answers 416 with `Content-Range: bytes */SIZE`. " +
    "If-None-Match with the ETag answers 304. An artifact whose object the bucket's retention rule removed answers 410.",
  security: bearerAuth,
  request: { params: z.object({ id: z.string().min(1).max(64), name: ArtifactName }) },
  responses: {
    200: binary("the artifact's bytes, with its Content-Type, Content-Length and ETag"),
    206: binary("the requested bytes; Content-Range says which"),
    304: { description: "not modified (If-None-Match)" },
    ...errors(401, 403, 404, 410, 416, 429),
  },
});
artifacts.openAPIRegistry.registerPath(downloadRoute);
artifacts.get("/v1/tasks/:id/artifacts/:name", async (c) => {
  const id = c.req.param("id");
  const name = c.req.param("name");
  const caller = await requireProjectToken(c, "read", undefined);
  if (!taskIdOk(id)) throw invalid("id", "1–64 characters");
  if (!isArtifactName(name)) throw invalid("name", "1–128 letters, digits, '.', '_' or '-', starting with a letter or digit");
  const { artifact, key } = await (await taskActorOf(c, id)).readArtifact(caller.project, name);
  const etag = `"${artifact.sha256}"`;
  const headers: Record<string, string> = { etag, "accept-ranges": "bytes", "cache-control": "private, no-cache" };
  const tags = c.req.header("if-none-match");
  if (tags?.split(",").some((t) => t.trim().replace(/^W\//, "") === etag || t.trim() === "*")) return c.body(null, 304, headers);
  const range = requestedRange(c.req.header("range"), artifact.size);
  if (range === "unsatisfiable") {
    c.header("content-range", `bytes */${artifact.size}`);
    return errorResponse(c, new ApiError("range_not_satisfiable", `the artifact has ${artifact.size} bytes`));
  }
  const object = await bucketOf(c).get(key, range ? { range } : {});
  if (!object) throw new ApiError("gone", `the artifact ${name} was removed by the bucket's retention rule`);
  headers["content-type"] = artifact.contentType;
  headers["content-disposition"] = `attachment; filename="${artifact.name}"`;
  if (!range) return c.body(object.body, 200, { ...headers, "content-length": String(artifact.size) });
  const last = range.offset + range.length - 1;
  return c.body(object.body, 206, { ...headers, "content-length": String(range.length), "content-range": `bytes ${range.offset}-${last}/${artifact.size}` });
});

function bucketOf(c: AppContext): R2Bucket {
  if (!c.env.ARTIFACTS) throw new ApiError("misconfigured", "the deployment has no ARTIFACTS R2 bucket bound (wrangler.toml r2_buckets)");
  return c.env.ARTIFACTS;
}
