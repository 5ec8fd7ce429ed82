// A retrieve's package kept whole (issue 12): a real manager and worker retrieve from the Salesforce
// double; the worker hands the zip to its manager, which stores it with the job token as the task's
// `retrieve.zip` and its source-format conversion as `source.zip`; the CLI downloads both.
import { createHash } from "node:crypto";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { EdgeClient } from "../../protocol/client.ts";
import type { Task } from "../../protocol/index.ts";
import { registerOrg } from "../../runner/credentials/index.ts";
import { unzip } from "../../runner/source/testing.ts";
import { startSalesforceOrg, type SalesforceOrgDouble } from "../doubles/salesforce-org.ts";
import { cli } from "./cli-process.ts";
import { createProject, startEdge, type Edge } from "./edge-process.ts";
import { killAllManagers, startManager, waitFor } from "./manager-process.ts";

const STEP_MS = 90_000;
const CREDENTIALS_KEY = `retrieve-artifacts-key-${crypto.randomUUID()}`;

let root: string;
let org: SalesforceOrgDouble;
let edge: Edge;
let project: string;
let api: EdgeClient;
let configDir: string;

beforeAll(async () => {
  root = mkdtempSync(join(tmpdir(), "sfp-retrieve-artifacts-"));
  [org, edge] = await Promise.all([startSalesforceOrg(), startEdge()]);
  org.controls.deployPolls = 1;
  let owner: string;
  ({ project, ownerToken: owner } = await createProject(edge, "retrieve-artifacts"));
  api = new EdgeClient(edge.url, owner);
  await api.request("PUT", `/v1/projects/${project}/orgs/uat`, { body: { orgId: org.orgId } });
  const store = { provider: "local" as const, file: join(root, "store", "credentials.json"), key: CREDENTIALS_KEY };
  await registerOrg({ alias: "uat", sfdxAuthUrl: org.authUrl, project, config: store });
  const { body: reg } = await api.request<{ token: string }>("POST", `/v1/projects/${project}/registration-tokens`, { body: { pool: "default" } });
  const manager = startManager({
    edgeUrl: edge.url,
    registrationToken: reg.token,
    name: "retrieve-artifacts",
    dir: mkdtempSync(join(root, "manager-")),
    credentialsFile: store.file,
    credentialsKey: CREDENTIALS_KEY,
  });
  await manager.waitForLog("registered", STEP_MS);
  configDir = mkdtempSync(join(root, "cli-"));
  const login = await cli(["--config-dir", configDir, "login", "--url", edge.url, "--project", project, "--token", owner]);
  if (login.code !== 0) throw new Error(`login failed: ${login.stderr}`);
}, 240_000);

afterAll(async () => {
  await killAllManagers();
  await Promise.all([edge?.stop(), org?.close()]);
  if (root) rmSync(root, { recursive: true, force: true });
});

describe("a retrieve keeps its package as artifacts", { timeout: 3 * STEP_MS }, () => {
  it("stores retrieve.zip and source.zip, lists them on the task and the CLI downloads them byte-identical", async () => {
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
