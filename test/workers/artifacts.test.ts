// Artifacts (docs/API.md "Artifacts"): the live lease's job streams them into the R2 bucket bound to
// the edge (miniflare's real R2, not a mock); the task lists them; its project's readers download
// them with Range. Limits here are vitest.config.ts's: 3 MiB an artifact, 4 MiB a task.
import { env, SELF } from "cloudflare:test";
import { describe, expect, it } from "vitest";
import type { Accepted } from "../../protocol/index.ts";
import { api, BASE, newToken, setup } from "./helpers.ts";
import { accept, finish, fireTimers, pollOne, readTask, running, taskActor } from "./runner-helpers.ts";

const MiB = 1024 * 1024;

function bytes(size: number, seed = 7): Uint8Array {
  const out = new Uint8Array(size);
  for (let i = 0; i < size; i++) out[i] = (i * 31 + seed + (i >> 10)) & 0xff;
  return out;
}

async function sha256(data: Uint8Array): Promise<string> {
  return [...new Uint8Array(await crypto.subtle.digest("SHA-256", data))].map((b) => b.toString(16).padStart(2, "0")).join("");
}

/** A body handed out 64 KiB at a time as the edge pulls; `breakAt` makes it fail after that many bytes. */
function chunked(data: Uint8Array, breakAt?: number): ReadableStream<Uint8Array> {
  let sent = 0;
  return new ReadableStream<Uint8Array>({
    pull(c) {
      if (breakAt !== undefined && sent >= breakAt) return c.error(new Error("the connection broke"));
      if (sent >= data.length) return c.close();
      const chunk = data.slice(sent, sent + 64 * 1024);
      sent += chunk.length;
      c.enqueue(chunk);
    },
  });
}

interface PutOptions {
  token?: string;
  epoch?: number | string;
  size?: number;
  contentType?: string | null;
  body?: BodyInit;
}

/** PUT /v1/jobs/:taskId/artifacts/:name as a runner's worker sends it: streamed, with Content-Length. */
async function put(lease: Accepted, name: string, data: Uint8Array, opts: PutOptions = {}) {
  const headers: Record<string, string> = { authorization: `Bearer ${opts.token ?? lease.jobToken}` };
  // size -1: no Content-Length at all (a chunked body).
  if (opts.size !== -1) headers["content-length"] = String(opts.size ?? data.length);
  if (opts.contentType !== null) headers["content-type"] = opts.contentType ?? "application/zip";
  const epoch = opts.epoch ?? lease.leaseEpoch;
  const res = await SELF.fetch(`${BASE}/v1/jobs/${lease.task.id}/artifacts/${name}?leaseEpoch=${epoch}`, {
    method: "PUT",
    headers,
    body: opts.body ?? chunked(data),
  });
  const text = await res.text();
  return { status: res.status, body: text ? JSON.parse(text) : undefined, headers: res.headers };
}

async function download(token: string, taskId: string, name: string, headers: Record<string, string> = {}) {
  const res = await SELF.fetch(`${BASE}/v1/tasks/${taskId}/artifacts/${name}`, { headers: { authorization: `Bearer ${token}`, ...headers } });
  return { status: res.status, bytes: new Uint8Array(await res.arrayBuffer()), headers: res.headers };
}

async function objectsOf(project: string, taskId: string): Promise<string[]> {
  return (await env.ARTIFACTS.list({ prefix: `${project}/${taskId}/` })).objects.map((o) => o.key);
}

describe("uploading", () => {
  it("streams an upload over the API's 1 MiB body limit into R2, hashes it on the way, and lists it on the task", async () => {
    const { project, owner, task, lease } = await running();
    const data = bytes(2 * MiB + 123);
    const res = await put(lease, "retrieve.zip", data);
    expect(res.status).toBe(201);
    const artifact = { name: "retrieve.zip", size: data.length, sha256: await sha256(data), contentType: "application/zip" };
    expect(res.body.artifact).toMatchObject(artifact);

    const read = await readTask(owner, task.id);
    expect(read.artifacts).toEqual([res.body.artifact]);
    const events = await api("GET", `/v1/tasks/${task.id}/events`, { token: owner });
    expect(events.body.events.at(-1)).toMatchObject({ type: "artifact", seq: read.version, artifact });
    const list = await api("GET", `/v1/tasks/${task.id}/artifacts`, { token: owner });
    expect(list.status).toBe(200);
    expect(list.body).toEqual({ artifacts: [res.body.artifact] });

    const keys = await objectsOf(project, task.id);
    expect(keys).toHaveLength(1);
    const object = await env.ARTIFACTS.get(keys[0]);
    expect(await sha256(new Uint8Array(await object!.arrayBuffer()))).toBe(artifact.sha256);
  });

  it("replaces an artifact uploaded again under its name, and deletes the old object", async () => {
    const { project, owner, task, lease } = await running();
    expect((await put(lease, "report.json", bytes(1000, 1), { contentType: "application/json" })).status).toBe(201);
    const again = await put(lease, "report.json", bytes(2000, 2), { contentType: "application/json" });
    expect(again.status).toBe(200);
    expect(again.body.artifact.size).toBe(2000);
    expect((await readTask(owner, task.id)).artifacts?.map((a) => a.size)).toEqual([2000]);
    expect(await objectsOf(project, task.id)).toHaveLength(1);
    expect((await download(owner, task.id, "report.json")).bytes).toEqual(bytes(2000, 2));
  });

  it("stores an upload without Content-Type as application/octet-stream, and an empty one", async () => {
    const { owner, task, lease } = await running();
    expect((await put(lease, "raw.bin", bytes(10), { contentType: null })).body.artifact.contentType).toBe("application/octet-stream");
    const empty = await put(lease, "empty.txt", new Uint8Array(0), { contentType: "text/plain; charset=utf-8", body: new Uint8Array(0) });
    expect(empty.status).toBe(201);
    expect(empty.body.artifact).toMatchObject({ size: 0, sha256: await sha256(new Uint8Array(0)), contentType: "text/plain; charset=utf-8" });
    const got = await download(owner, task.id, "empty.txt");
    expect(got.status).toBe(200);
    expect(got.bytes.length).toBe(0);
  });
});

describe("reading", () => {
  it("downloads whole with ETag = sha256, a byte range with 206, a suffix, an open range, 304 on If-None-Match", async () => {
    const { project, owner, task, lease } = await running();
    const data = bytes(100_000);
    const { body } = await put(lease, "result.json", data, { contentType: "application/json" });
    const viewer = await newToken(project, owner, "viewer");

    const whole = await download(viewer.token, task.id, "result.json");
    expect(whole.status).toBe(200);
    expect(whole.bytes).toEqual(data);
    expect(whole.headers.get("etag")).toBe(`"${body.artifact.sha256}"`);
    expect(whole.headers.get("content-type")).toBe("application/json");
    expect(whole.headers.get("accept-ranges")).toBe("bytes");

    const middle = await download(owner, task.id, "result.json", { range: "bytes=1000-1999" });
    expect(middle.status).toBe(206);
    expect(middle.headers.get("content-range")).toBe(`bytes 1000-1999/${data.length}`);
    expect(middle.bytes).toEqual(data.slice(1000, 2000));

    const tail = await download(owner, task.id, "result.json", { range: "bytes=-10" });
    expect(tail.status).toBe(206);
    expect(tail.bytes).toEqual(data.slice(-10));
    expect(tail.headers.get("content-range")).toBe(`bytes ${data.length - 10}-${data.length - 1}/${data.length}`);

    const rest = await download(owner, task.id, "result.json", { range: `bytes=${data.length - 5}-` });
    expect(rest.status).toBe(206);
    expect(rest.bytes).toEqual(data.slice(-5));

    const same = await download(owner, task.id, "result.json", { "if-none-match": `"${body.artifact.sha256}"` });
    expect(same.status).toBe(304);
  });

  it("answers 416 with Content-Range: bytes */size to a range at or past the end", async () => {
    const { owner, task, lease } = await running();
    await put(lease, "small.txt", bytes(50), { contentType: "text/plain" });
    for (const range of ["bytes=50-", "bytes=999-1000"]) {
      const res = await api("GET", `/v1/tasks/${task.id}/artifacts/small.txt`, { token: owner, headers: { range } });
      expect(res.status).toBe(416);
      expect(res.body.error.code).toBe("range_not_satisfiable");
      expect(res.headers.get("content-range")).toBe("bytes */50");
    }
  });

  it("is 404 to another project's token (list and read), and for a name the task does not have", async () => {
    const { task, lease, owner } = await running();
    await put(lease, "retrieve.zip", bytes(100));
    const other = await setup("other");
    const list = await api("GET", `/v1/tasks/${task.id}/artifacts`, { token: other.owner });
    expect(list.status).toBe(404);
    expect(list.body.error.code).toBe("not_found");
    const read = await api("GET", `/v1/tasks/${task.id}/artifacts/retrieve.zip`, { token: other.owner });
    expect(read.status).toBe(404);
    expect((await api("GET", `/v1/tasks/${task.id}/artifacts/nope.zip`, { token: owner })).status).toBe(404);
  });

  it("answers 410 gone for a listed artifact whose object the bucket's retention removed", async () => {
    const { project, owner, task, lease } = await running();
    await put(lease, "old.zip", bytes(100));
    for (const key of await objectsOf(project, task.id)) await env.ARTIFACTS.delete(key);
    const res = await api("GET", `/v1/tasks/${task.id}/artifacts/old.zip`, { token: owner });
    expect(res.status).toBe(410);
    expect(res.body.error.code).toBe("gone");
  });
});

describe("only the live lease uploads", () => {
  it("refuses a job token of another task or epoch (403), a project token (403), none (401)", async () => {
    const a = await running();
    const b = await running();
    const foreign = await put(a.lease, "x.zip", bytes(10), { token: b.lease.jobToken, epoch: b.lease.leaseEpoch });
    expect(foreign.status).toBe(403);
    const wrongEpoch = await put(a.lease, "x.zip", bytes(10), { epoch: a.lease.leaseEpoch + 1 });
    expect(wrongEpoch.status).toBe(403);
    expect(wrongEpoch.body.error.field).toBe("leaseEpoch");
    expect((await put(a.lease, "x.zip", bytes(10), { token: a.owner })).status).toBe(403);
    const none = await SELF.fetch(`${BASE}/v1/jobs/${a.task.id}/artifacts/x.zip?leaseEpoch=1`, { method: "PUT", body: "x" });
    expect(none.status).toBe(401);
    expect(await objectsOf(a.project, a.task.id)).toEqual([]);
  });

  it("refuses a lapsed lease with 409 stale_lease once a newer attempt holds the task, and stores nothing", async () => {
    const { project, owner, runner, task, lease } = await running();
    await fireTimers(taskActor(task.id), "lease");
    const offer = await pollOne(runner.runnerToken);
    const second = await accept(runner.runnerToken, task.id, offer.assignmentId);
    expect(second.body.leaseEpoch).toBe(lease.leaseEpoch + 1);
    const stale = await put(lease, "late.zip", bytes(1000));
    expect(stale.status).toBe(409);
    expect(stale.body.error.code).toBe("stale_lease");
    expect((await put(second.body, "fresh.zip", bytes(1000))).status).toBe(201);
    expect((await readTask(owner, task.id)).artifacts?.map((a) => a.name)).toEqual(["fresh.zip"]);
    expect(await objectsOf(project, task.id)).toHaveLength(1);
  });

  it("refuses an upload after the task finished: 410 gone to the lease that finished it", async () => {
    const { project, owner, task, lease } = await running();
    await put(lease, "before.zip", bytes(100));
    expect((await finish(lease)).status).toBe(200);
    const after = await put(lease, "after.zip", bytes(100));
    expect(after.status).toBe(410);
    expect(after.body.error.code).toBe("gone");
    expect((await readTask(owner, task.id)).artifacts?.map((a) => a.name)).toEqual(["before.zip"]);
    expect(await objectsOf(project, task.id)).toHaveLength(1);
  });
});

describe("limits, and nothing half-stored", () => {
  it("refuses an artifact over the per-artifact limit from its Content-Length with 413, storing and listing nothing", async () => {
    const { project, owner, task, lease } = await running();
    const res = await put(lease, "huge.zip", bytes(3 * MiB + 1));
    expect(res.status).toBe(413);
    expect(res.body.error.code).toBe("too_large");
    expect((await api("GET", `/v1/tasks/${task.id}/artifacts`, { token: owner })).body.artifacts).toEqual([]);
    expect(await objectsOf(project, task.id)).toEqual([]);
  });

  it("refuses an artifact that would take the task past its total with 413, keeping what was stored", async () => {
    const { project, owner, task, lease } = await running();
    expect((await put(lease, "one.zip", bytes(2 * MiB))).status).toBe(201);
    const over = await put(lease, "two.zip", bytes(2 * MiB + 1));
    expect(over.status).toBe(413);
    expect((await readTask(owner, task.id)).artifacts?.map((a) => a.name)).toEqual(["one.zip"]);
    expect(await objectsOf(project, task.id)).toHaveLength(1);
    // Replacing one.zip counts its new size instead of the old one.
    expect((await put(lease, "one.zip", bytes(3 * MiB))).status).toBe(200);
  });

  it("stores and lists nothing of an upload that breaks off midway, and the task's room is free again", async () => {
    const { project, owner, task, lease } = await running();
    const data = bytes(2 * MiB);
    const broken = await put(lease, "broken.zip", data, { body: chunked(data, 1 * MiB) }).catch((err: Error) => ({ status: 0, body: String(err) }));
    expect(broken.status).not.toBe(201);
    expect((await api("GET", `/v1/tasks/${task.id}/artifacts`, { token: owner })).body.artifacts).toEqual([]);
    expect(await objectsOf(project, task.id)).toEqual([]);
    expect((await put(lease, "whole.zip", bytes(3 * MiB))).status).toBe(201);
  });

  it("refuses bad names, a missing epoch or Content-Length, and a bad Content-Type with 400 naming the field", async () => {
    const { project, task, lease } = await running();
    const long = "a".repeat(129);
    for (const name of [".hidden", "a%20b", "a%2Fb", "..a", long, "caf%C3%A9"]) {
      const res = await put(lease, name, bytes(10));
      expect(res.status, name).toBe(400);
      expect(res.body.error).toMatchObject({ code: "invalid_request", field: "name" });
    }
    expect((await put(lease, "a".repeat(128), bytes(10))).status).toBe(201);
    const noEpoch = await SELF.fetch(`${BASE}/v1/jobs/${task.id}/artifacts/x.zip`, {
      method: "PUT",
      headers: { authorization: `Bearer ${lease.jobToken}` },
      body: "x",
    });
    expect(noEpoch.status).toBe(400);
    expect(((await noEpoch.json()) as { error: { field: string } }).error.field).toBe("leaseEpoch");
    const noLength = await put(lease, "x.zip", bytes(10), { body: chunked(bytes(10)), size: -1 });
    expect(noLength.status).toBe(400);
    expect(noLength.body.error.field).toBe("content-length");
    const badType = await put(lease, "x.zip", bytes(10), { contentType: "zip files please" });
    expect(badType.status).toBe(400);
    expect(badType.body.error.field).toBe("content-type");
    expect((await objectsOf(project, task.id)).map((k) => k.split("/")[2])).toEqual(["a".repeat(128)]);
  });
});

describe("the contract", () => {
  it("documents the three artifact routes in the OpenAPI document", async () => {
    const doc = await api("GET", "/v1/openapi.json");
    expect(Object.keys(doc.body.paths["/v1/jobs/{taskId}/artifacts/{name}"])).toEqual(["put"]);
    expect(Object.keys(doc.body.paths["/v1/tasks/{id}/artifacts"])).toEqual(["get"]);
    expect(Object.keys(doc.body.paths["/v1/tasks/{id}/artifacts/{name}"])).toEqual(["get"]);
    expect(doc.body.components.schemas.Artifact.required).toEqual(["name", "size", "sha256", "contentType", "storedAt"]);
  });
});
