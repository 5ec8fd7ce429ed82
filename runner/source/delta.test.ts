import { mkdtemp, readdir, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { type PrepareSourceDeployOptions, prepareSourceDeploy } from "./index.ts";
import { DELTA, type FixtureServer, git, parseManifest, startFixtureServer, unzip, jobOptions } from "./testing.ts";

describe("a delta between two commits (sfdx-git-delta decides what changed, SDR converts it)", () => {
  let fx: FixtureServer;
  let scratch: string;
  let opts: (source: PrepareSourceDeployOptions["source"]) => PrepareSourceDeployOptions;
  beforeAll(async () => {
    fx = await startFixtureServer();
  });
  afterAll(() => fx.close());
  beforeEach(async () => {
    scratch = await mkdtemp(join(tmpdir(), "sfp-delta-test-"));
    opts = (source) => jobOptions(scratch, source);
    return () => rm(scratch, { recursive: true, force: true });
  });

  it("holds only the changed components, and destructiveChangesPost.xml lists the removed one", async () => {
    const prepared = await prepareSourceDeploy(opts({ repo: fx.url, ref: "main", delta: { from: fx.v1 } }));
    expect(prepared.sha).toBe(fx.v2);
    expect(prepared.fromSha).toBe(fx.v1);
    const files = await unzip(prepared.zip);
    expect(parseManifest(files.get("package.xml") ?? "")).toEqual({ types: DELTA.changed, version: "62.0" });
    expect(parseManifest(files.get("destructiveChangesPost.xml") ?? "")).toEqual({ types: DELTA.deleted, version: "62.0" });
    expect(prepared.components).toBe(3);
    expect(prepared.destructive).toBe(1);
    expect([...files.keys()].sort()).toEqual([
      "classes/InvoiceService.cls",
      "classes/InvoiceService.cls-meta.xml",
      "destructiveChangesPost.xml",
      "labels/CustomLabels.labels",
      "objects/Invoice__c.object",
      "package.xml",
    ]);
    expect(files.get("classes/InvoiceService.cls")).toContain("Status__c != 'Paid'");
    // only the new field goes with the object, only the edited label with the labels
    const object = files.get("objects/Invoice__c.object") ?? "";
    expect(object.match(/<fields>/g)).toHaveLength(1);
    expect(object).toContain("<fullName>Status__c</fullName>");
    const labels = files.get("labels/CustomLabels.labels") ?? "";
    expect(labels).toContain("<fullName>Invoice_Paid</fullName>");
    expect(labels).not.toContain("Invoice_Overdue");
    // the forceignored class changed too, and is in neither manifest
    expect(JSON.stringify([...files.values()])).not.toContain("ScratchOrgSetup");
    expect(prepared.warnings).toEqual([]);
    await prepared.cleanup();
    expect(await readdir(join(scratch, "jobs"))).toEqual([]);
  });

  it("is empty (nothing to deploy, nothing to delete) between a commit and itself", async () => {
    const prepared = await prepareSourceDeploy(opts({ repo: fx.url, ref: fx.v2, delta: { from: fx.v2 } }));
    const files = await unzip(prepared.zip);
    expect(parseManifest(files.get("package.xml") ?? "")).toEqual({ types: {}, version: "62.0" });
    expect([...files.keys()]).toEqual(["package.xml"]);
    expect(prepared.components).toBe(0);
    expect(prepared.destructive).toBe(0);
    await prepared.cleanup();
  });

  it("deletes only, when the later commit only removes components", async () => {
    git(fx.work, "rm", "--quiet", "-r", "common/main/default/aura/invoiceBanner");
    git(fx.work, "commit", "--quiet", "--message", "drop the banner");
    const v3 = git(fx.work, "rev-parse", "HEAD");
    git(fx.work, "push", "--quiet", fx.bare, "HEAD:refs/heads/drop-banner");
    git(fx.work, "reset", "--quiet", "--hard", fx.v2);
    const prepared = await prepareSourceDeploy(opts({ repo: fx.url, ref: "drop-banner", delta: { from: fx.v2 } }));
    expect(prepared.sha).toBe(v3);
    const files = await unzip(prepared.zip);
    expect(parseManifest(files.get("package.xml") ?? "").types).toEqual({});
    expect(parseManifest(files.get("destructiveChangesPost.xml") ?? "").types).toEqual({ AuraDefinitionBundle: ["invoiceBanner"] });
    expect(prepared.components).toBe(0);
    expect(prepared.destructive).toBe(1);
    await prepared.cleanup();
  });
});
