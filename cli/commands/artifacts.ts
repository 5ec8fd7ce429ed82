// `sfp-edge task artifacts <id>` and `sfp-edge task download <id> <name> [-o file]` (docs/API.md
// "Artifacts"): a download streams to a `.part` file beside the target, hashing on the way, and only
// a file whose size and SHA-256 match the task's listing is renamed into place.
import { createHash } from "node:crypto";
import { createWriteStream } from "node:fs";
import { rename, rm } from "node:fs/promises";
import { Transform } from "node:stream";
import { pipeline } from "node:stream/promises";
import { artifactPath, type ArtifactList } from "../../protocol/artifacts.ts";
import { connect } from "../connect.ts";
import { CliError, EXIT, line, parse, printJson, UsageError, type Globals, type Io } from "../io.ts";

export const ARTIFACT_USAGE = {
  artifacts: "sfp-edge task artifacts <id>",
  download: "sfp-edge task download <id> <name> [-o <file>]",
} as const;

export async function taskArtifacts(io: Io, globals: Globals, argv: string[]): Promise<number> {
  const { positionals } = parse(argv, {}, ARTIFACT_USAGE.artifacts);
  if (positionals.length !== 1 || !positionals[0]) throw new UsageError("expected one task id", ARTIFACT_USAGE.artifacts);
  const s = await connect(io, globals);
  const { body } = await s.client.request<ArtifactList>("GET", artifactPath("tasks", positionals[0]));
  if (globals.json) {
    printJson(io, body);
    return EXIT.ok;
  }
  if (!body.artifacts.length) line(io, "no artifacts");
  for (const a of body.artifacts) line(io, `${a.name}  ${a.size} bytes  ${a.contentType}  sha256 ${a.sha256}  ${a.storedAt}`);
  return EXIT.ok;
}

export async function taskDownload(io: Io, globals: Globals, argv: string[]): Promise<number> {
  const { values, positionals } = parse(argv, { output: { type: "string", short: "o" } }, ARTIFACT_USAGE.download);
  if (positionals.length !== 2 || !positionals[0] || !positionals[1]) throw new UsageError("expected a task id and an artifact name", ARTIFACT_USAGE.download);
  const [taskId, name] = positionals;
  // Names are a safe charset without separators (protocol/artifacts.ts), so the default stays in this directory.
  const target = values.output ?? name;
  const s = await connect(io, globals);
  const { body } = await s.client.request<ArtifactList>("GET", artifactPath("tasks", taskId));
  const listed = body.artifacts.find((a) => a.name === name);
  if (!listed) throw new CliError(`task ${taskId} has no artifact ${name} (sfp-edge task artifacts ${taskId} lists them)`);
  const res = await s.client.getArtifact(taskId, name);
  if (!res.body) throw new CliError(`the edge answered no body for ${name}`);
  const got = await streamToFile(res.body, target);
  if (got.size !== listed.size || got.sha256 !== listed.sha256) {
    await rm(got.part, { force: true });
    throw new CliError(
      `the download of ${name} does not match the task's listing (got ${got.size} bytes, sha256 ${got.sha256}; listed ${listed.size} bytes, sha256 ${listed.sha256}); nothing was written`,
    );
  }
  await rename(got.part, target);
  if (globals.json) printJson(io, { artifact: listed, file: target });
  else line(io, `downloaded ${name} (${listed.size} bytes, sha256 ${listed.sha256} verified) to ${target}`);
  return EXIT.ok;
}

/** Writes the body to `<target>.part`, counting and hashing every byte on the way. */
async function streamToFile(body: ReadableStream<Uint8Array>, target: string): Promise<{ part: string; size: number; sha256: string }> {
  const part = `${target}.part`;
  const hash = createHash("sha256");
  let size = 0;
  const tap = new Transform({
    transform(chunk: Buffer, _encoding, done) {
      size += chunk.length;
      hash.update(chunk);
      done(null, chunk);
    },
  });
  try {
    await pipeline(chunks(body), tap, createWriteStream(part));
  } catch (err) {
    await rm(part, { force: true });
    throw new CliError(`the download broke off: ${err instanceof Error ? err.message : String(err)}`);
  }
  return { part, size, sha256: hash.digest("hex") };
}

/** The body's chunks as they arrive. */
async function* chunks(body: ReadableStream<Uint8Array>): AsyncGenerator<Uint8Array> {
  const reader = body.getReader();
  try {
    for (;;) {
      const next = await reader.read();
      if (next.done) return;
      yield next.value;
    }
  } finally {
    reader.releaseLock();
  }
}
