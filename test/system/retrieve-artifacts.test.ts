// A retrieve's package kept whole (issue 12): a real manager and worker retrieve from the Salesforce
// double; the worker hands the zip to its manager, which stores it with the job token as the task's
// `retrieve.zip` and its source-format conversion as `source.zip`; the CLI downloads both.
import { createHash } from "node:crypto";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { Task } from "../../protocol/index.ts";
import { unzip } from "../../runner/source/testing.ts";
import { cli } from "./cli-process.ts";
import { waitFor } from "./manager-process.ts";
import { STEP_MS, type Stack, startStack } from "./stack.ts";

let stack: Stack;

beforeAll(async () => {
  stack = await startStack({ name: "retrieve-artifacts", orgs: { uat: {} } });
}, 240_000);

afterAll(() => stack?.stop());

describe("a retrieve keeps its package as artifacts", { timeout: 3 * STEP_MS }, () => {
  it("stores retrieve.zip and source.zip, lists them on the task and the CLI downloads them byte-identical", async () => {
    const { api, project, configDir, root } = stack;
    const { body } = await api.request<{ task: Task }>("POST", `/v1/projects/${project}/tasks`, {
      body: { type: "retrieve", org: "uat", payload: { unpackaged: { types: [{ name: "ApexClass", members: ["InvoiceService", "InvoiceServiceTest"] }] } } },
    });
    const id = body.task.id;
    const done = await waitFor(
      async () => {
        const t = (await api.request<{ task: Task }>("GET", `/v1/tasks/${id}`)).body.task;
        return ["succeeded", "failed", "canceled"].includes(t.status) ? t : undefined;
      },
      STEP_MS,
      "the retrieve to end",
    );
    expect(done.error).toBeUndefined();
    expect(done.status).toBe("succeeded");
    expect(done.result).toMatchObject({ status: "Succeeded", artifacts: ["retrieve.zip", "source.zip"] });
    expect(done.artifacts?.map((a) => a.name).sort()).toEqual(["retrieve.zip", "source.zip"]);

    const zipFile = join(root, "retrieve.zip");
    const got = await cli(["--config-dir", configDir, "task", "download", id, "retrieve.zip", "-o", zipFile]);
    expect(got.code).toBe(0);
    const bytes = readFileSync(zipFile);
    // Byte-identical to what Salesforce answered: the result's inline copy of this small zip.
    expect(bytes.toString("base64")).toBe((done.result as { zipBase64: string }).zipBase64);
    expect(createHash("sha256").update(bytes).digest("hex")).toBe(done.artifacts?.find((a) => a.name === "retrieve.zip")?.sha256);

    const sourceFile = join(root, "source.zip");
    expect((await cli(["--config-dir", configDir, "task", "download", id, "source.zip", "-o", sourceFile])).code).toBe(0);
    const files = [...(await unzip(readFileSync(sourceFile))).keys()];
    expect(files).toEqual(
      expect.arrayContaining([
        "main/default/classes/InvoiceService.cls",
        "main/default/classes/InvoiceService.cls-meta.xml",
        "main/default/classes/InvoiceServiceTest.cls",
      ]),
    );
  });
});
