// `sfp-edge task download` keeps only bytes that match the task's listing. The real edge never serves
// a mismatch (test/system/artifacts.test.ts downloads through it), so a loopback stand-in answers a
// listing and a body that disagree, as a corrupting proxy or a bucket gone wrong would.
import { createHash } from "node:crypto";
import { createServer, type Server } from "node:http";
import { mkdtemp, readFile, stat } from "node:fs/promises";
import type { AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { run } from "../main.ts";
import { memoryIo } from "../test-io.ts";

const LISTED = Buffer.from("the listed bytes");
let served = LISTED;
let server: Server;
let env: NodeJS.ProcessEnv;

beforeAll(async () => {
  server = createServer((req, res) => {
    if (req.url === "/v1/tasks/tsk_1/artifacts") {
      const artifact = {
        name: "a.zip",
        size: LISTED.length,
        sha256: createHash("sha256").update(LISTED).digest("hex"),
        contentType: "application/zip",
        storedAt: "2026-01-01T00:00:00.000Z",
      };
      res.writeHead(200, { "content-type": "application/json" }).end(JSON.stringify({ artifacts: [artifact] }));
    } else if (req.url === "/v1/tasks/tsk_1/artifacts/a.zip") {
      res.writeHead(200, { "content-type": "application/zip", "content-length": String(served.length) }).end(served);
    } else res.writeHead(404).end();
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as AddressInfo;
  env = { SFP_EDGE_URL: `http://127.0.0.1:${port}`, SFP_EDGE_TOKEN: "sfp_test", SFP_EDGE_PROJECT: "prj_test" };
});

afterAll(() => new Promise<void>((resolve) => server.close(() => resolve())));

describe("sfp-edge task download", () => {
  it("writes the file when its size and sha256 match the listing", async () => {
    served = LISTED;
    const target = join(await mkdtemp(join(tmpdir(), "sfp-download-")), "a.zip");
    const { io, stdout } = memoryIo(env);
    expect(await run(["task", "download", "tsk_1", "a.zip", "-o", target], io)).toBe(0);
    expect(stdout()).toContain("verified");
    expect(await readFile(target)).toEqual(LISTED);
  });

  it("refuses bytes that differ from the listing, leaving neither the file nor its .part", async () => {
    served = Buffer.from("THE LISTED BYTES");
    const target = join(await mkdtemp(join(tmpdir(), "sfp-download-")), "a.zip");
    const { io, stderr } = memoryIo(env);
    expect(await run(["task", "download", "tsk_1", "a.zip", "-o", target], io)).toBe(1);
    expect(stderr()).toMatch(/does not match the task's listing .*nothing was written/);
    await expect(stat(target)).rejects.toThrow();
    await expect(stat(`${target}.part`)).rejects.toThrow();
  });
});
