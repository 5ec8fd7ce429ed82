// Artifacts end to end (docs/API.md "Artifacts"): the runner's upload module streams a 5 MiB file
// into the real edge in workerd (its R2 binding, not a mock) and the `sfp-edge` CLI, as a child
// process, lists it and downloads it byte-identical, its sha256 verified against the listing.
import { createHash, randomBytes } from "node:crypto";
import { mkdtemp, readFile, stat, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { EdgeClient } from "../../protocol/client.ts";
import type { Artifact, Task } from "../../protocol/index.ts";
import { uploadArtifact } from "../../runner/manager/artifacts.ts";
import { cli } from "./cli-process.ts";
import { createProject, startEdge, type Edge } from "./edge-process.ts";
import { type Job, takeTask } from "./runner-api.ts";

const MiB = 1024 * 1024;
const sha256 = (data: Buffer) => createHash("sha256").update(data).digest("hex");

let edge: Edge;
let project: string;
let owner: string;
let configDir: string;
let dir: string;
let api: EdgeClient;

const sfp = (...args: string[]) => cli(["--config-dir", configDir, ...args]);

/** A running retrieve in a pool of its own, held by a test runner's job. */
async function runningTask(pool: string): Promise<Job> {
  await api.request("PUT", `/v1/projects/${project}/orgs/${pool}-org`, { body: { pool } });
  const { body } = await api.request<{ task: Task }>("POST", `/v1/projects/${project}/tasks`, { body: { type: "retrieve", org: `${pool}-org` } });
  return takeTask(edge.url, project, owner, body.task.id, pool);
}

beforeAll(async () => {
  edge = await startEdge();
  ({ project, ownerToken: owner } = await createProject(edge, "artifacts-system"));
  api = new EdgeClient(edge.url, owner);
  dir = await mkdtemp(join(tmpdir(), "sfp-artifacts-"));
  configDir = join(dir, "config");
  const login = await cli(["--config-dir", configDir, "login", "--url", edge.url, "--token", owner, "--project", project]);
  if (login.code !== 0) throw new Error(`login failed: ${login.stderr}`);
});

afterAll(async () => {
  await edge?.stop();
});

describe("a 5 MiB artifact from the runner's module to the CLI", () => {
  it("uploads streamed through the edge into R2 and downloads byte-identical, sha256 verified", async () => {
    const job = await runningTask("artifacts-a");
    const data = randomBytes(5 * MiB + 17);
    const source = join(dir, "retrieve-source.zip");
    await writeFile(source, data);

    const stored = await uploadArtifact(job, job.taskId, "retrieve.zip", source, "application/zip");
    expect(stored).toMatchObject({ name: "retrieve.zip", size: data.length, sha256: sha256(data), contentType: "application/zip" });
    await job.finish("succeeded", { result: { artifacts: ["retrieve.zip"] } });

    const listed = await sfp("task", "artifacts", job.taskId, "--json");
    expect(listed.code).toBe(0);
    expect((JSON.parse(listed.stdout) as { artifacts: Artifact[] }).artifacts).toEqual([stored]);
    const plain = await sfp("task", "artifacts", job.taskId);
    expect(plain.stdout).toContain(`retrieve.zip  ${data.length} bytes  application/zip  sha256 ${stored.sha256}`);

    const target = join(dir, "downloaded.zip");
    const got = await sfp("task", "download", job.taskId, "retrieve.zip", "-o", target);
    expect(got.code, got.stderr).toBe(0);
    expect(got.stdout).toContain(`sha256 ${stored.sha256} verified`);
    const downloaded = await readFile(target);
    expect(sha256(downloaded)).toBe(sha256(data));
    expect(downloaded.equals(data)).toBe(true);
    await expect(stat(`${target}.part`)).rejects.toThrow();
  });

  it("refuses an upload once the lease's task has finished (410), and the CLI names a missing artifact", async () => {
    const job = await runningTask("artifacts-b");
    const source = join(dir, "late.json");
    await writeFile(source, JSON.stringify({ late: true }));
    await job.finish("succeeded");
    await expect(uploadArtifact(job, job.taskId, "late.json", source, "application/json")).rejects.toMatchObject({ status: 410, code: "gone" });

    const missing = await sfp("task", "download", job.taskId, "late.json", "-o", join(dir, "late-copy.json"));
    expect(missing.code).toBe(1);
    expect(missing.stderr).toContain(`task ${job.taskId} has no artifact late.json`);
    await expect(stat(join(dir, "late-copy.json"))).rejects.toThrow();
  });
});
