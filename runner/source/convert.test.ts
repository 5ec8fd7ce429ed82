import { Socket } from "node:net";
import { mkdtemp, readdir, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, beforeEach, describe, expect, it, vi } from "vitest";
import { type PrepareSourceDeployOptions, prepareSourceDeploy, type SourceProgress } from "./index.ts";
import { SourceError } from "./errors.ts";
import { FIXTURE_COMPONENTS, type FixtureServer, git, jobOptions, parseManifest, startFixtureServer, TOKEN, unzip, unzipBinary } from "./testing.ts";

describe("an sfdx project at a commit → a metadata-format deploy zip (source-deploy-retrieve)", () => {
  let fx: FixtureServer;
  let scratch: string;
  let opts: (source: PrepareSourceDeployOptions["source"]) => PrepareSourceDeployOptions;
  beforeAll(async () => {
    fx = await startFixtureServer();
  });
  afterAll(() => fx.close());
  beforeEach(async () => {
    scratch = await mkdtemp(join(tmpdir(), "sfp-convert-test-"));
    opts = (source) => jobOptions(scratch, source);
    return () => rm(scratch, { recursive: true, force: true });
  });

  it("converts every package directory at a sha: package.xml lists exactly the fixture's components, files in metadata format", async () => {
    const progress: SourceProgress[] = [];
    const prepared = await prepareSourceDeploy({ ...opts({ repo: fx.url, ref: fx.v1 }), onProgress: (p) => progress.push(p) });

    expect(prepared.sha).toBe(fx.v1);
    expect(prepared.packageDirectories).toEqual(["force-app", "common"]);
    expect(prepared.apiVersion).toBe("62.0");
    expect(prepared.warnings).toEqual([]);
    const files = await unzip(prepared.zip);
    const manifest = parseManifest(files.get("package.xml") ?? "");
    expect(manifest).toEqual({ types: FIXTURE_COMPONENTS, version: "62.0" });
    expect(prepared.components).toBe(Object.values(FIXTURE_COMPONENTS).flat().length);
    expect(prepared.destructive).toBe(0);
    expect(files.has("destructiveChangesPost.xml")).toBe(false);

    expect([...files.keys()].sort()).toEqual(
      [
        "package.xml",
        "aura/invoiceBanner/invoiceBanner.cmp",
        "aura/invoiceBanner/invoiceBanner.cmp-meta.xml",
        "aura/invoiceBanner/invoiceBannerController.js",
        "classes/InvoiceService.cls",
        "classes/InvoiceService.cls-meta.xml",
        "classes/InvoiceServiceTest.cls",
        "classes/InvoiceServiceTest.cls-meta.xml",
        "classes/LegacyInvoiceHelper.cls",
        "classes/LegacyInvoiceHelper.cls-meta.xml",
        "classes/StringUtils.cls",
        "classes/StringUtils.cls-meta.xml",
        "flows/Invoice_Reminder.flow",
        "labels/CustomLabels.labels",
        "layouts/Invoice__c-Invoice Layout.layout",
        "lwc/invoiceList/invoiceList.html",
        "lwc/invoiceList/invoiceList.js",
        "lwc/invoiceList/invoiceList.js-meta.xml",
        "objects/Invoice__c.object",
        "permissionsets/Invoice_Manager.permissionset",
        "staticresources/invoiceAssets.resource",
        "staticresources/invoiceAssets.resource-meta.xml",
      ].sort(),
    );
    // the forceignored class, the LWC's jest tests and jsconfig.json are not deployed
    for (const path of files.keys()) expect(path).not.toMatch(/ScratchOrgSetup|__tests__|jsconfig/);
    // decomposed object recomposed: fields and list view inside the .object, with the object's own settings
    const object = files.get("objects/Invoice__c.object") ?? "";
    expect(object).toMatch(/<sharingModel>ReadWrite<\/sharingModel>/);
    expect(object).toMatch(/<fields>\s*<fullName>Amount__c<\/fullName>/);
    expect(object).toMatch(/<fields>\s*<fullName>Due_Date__c<\/fullName>/);
    expect(object).toMatch(/<listViews>\s*<fullName>All<\/fullName>/);
    // labels merged in one file; flow and permission set without their -meta.xml suffix
    expect((files.get("labels/CustomLabels.labels") ?? "").match(/<labels>/g)).toHaveLength(2);
    expect(files.get("flows/Invoice_Reminder.flow")).toContain("<processType>AutoLaunchedFlow</processType>");
    // the static resource folder became a zip of its files
    const resource = await unzipBinary(prepared.zip, "staticresources/invoiceAssets.resource");
    expect([...(await unzip(resource)).keys()].sort()).toEqual(["invoice.css", "invoice.js"]);

    expect(progress.map((p) => p.stage)).toEqual(expect.arrayContaining(["fetch", "checkout", "convert"]));
    expect(JSON.stringify(progress)).not.toContain(TOKEN);
    await prepared.cleanup();
    expect(await readdir(join(scratch, "jobs"))).toEqual([]);
  });

  it("never goes online: without sourceApiVersion the manifest takes the runner's API version, not one asked of the internet", async () => {
    const project = JSON.parse(await readFile(join(fx.work, "sfdx-project.json"), "utf8"));
    delete project.sourceApiVersion;
    await writeFile(join(fx.work, "sfdx-project.json"), JSON.stringify(project, null, 2));
    git(fx.work, "commit", "--quiet", "--all", "--message", "no sourceApiVersion");
    git(fx.work, "push", "--quiet", fx.bare, "HEAD:refs/heads/no-api-version");
    git(fx.work, "reset", "--quiet", "--hard", fx.v2);
    // git runs in child processes; any socket this process opens is SDR's or sgd's own
    const connects = vi.spyOn(Socket.prototype, "connect");
    try {
      const prepared = await prepareSourceDeploy({ ...opts({ repo: fx.url, ref: "no-api-version" }), apiVersion: "61.0" });
      expect(connects).not.toHaveBeenCalled();
      expect(prepared.apiVersion).toBe("61.0");
      expect(parseManifest((await unzip(prepared.zip)).get("package.xml") ?? "").version).toBe("61.0");
      await prepared.cleanup();
    } finally {
      connects.mockRestore();
    }
  });

  it("converts only the package directories the payload names", async () => {
    const prepared = await prepareSourceDeploy(opts({ repo: fx.url, ref: "v1", packageDirectories: ["common"] }));
    expect(parseManifest((await unzip(prepared.zip)).get("package.xml") ?? "").types).toEqual({
      ApexClass: ["StringUtils"],
      AuraDefinitionBundle: ["invoiceBanner"],
    });
    await prepared.cleanup();
  });

  it("fails with invalid_source, and leaves no checkout behind, for a package directory the commit lacks or a commit without sfdx-project.json", async () => {
    const missing = await prepareSourceDeploy(opts({ repo: fx.url, ref: fx.v1, packageDirectories: ["force-app", "unpackaged"] })).catch((e: unknown) => e);
    expect(missing).toBeInstanceOf(SourceError);
    expect(missing).toMatchObject({ code: "invalid_source", message: "package directory unpackaged is not in the commit" });

    git(fx.work, "rm", "--quiet", "sfdx-project.json");
    git(fx.work, "commit", "--quiet", "--message", "not a project any more");
    git(fx.work, "push", "--quiet", fx.bare, "HEAD:refs/heads/no-project");
    git(fx.work, "reset", "--quiet", "--hard", fx.v2);
    const noProject = await prepareSourceDeploy(opts({ repo: fx.url, ref: "no-project" })).catch((e: unknown) => e);
    expect(noProject).toMatchObject({ code: "invalid_source", message: "the commit has no sfdx-project.json at its root" });
    expect(await readdir(join(scratch, "jobs"))).toEqual([]);
  });

  it("does not apply sfdx-project.json replacements (they would read the runner's files and environment) and says so", async () => {
    const hostFile = join(scratch, "runner-host-file.txt");
    await writeFile(hostFile, "LEAKED\n");
    const project = JSON.parse(await readFile(join(fx.work, "sfdx-project.json"), "utf8"));
    project.replacements = [{ filename: "force-app/main/default/classes/InvoiceService.cls", stringToReplace: "Invoice__c", replaceWithFile: hostFile }];
    await writeFile(join(fx.work, "sfdx-project.json"), JSON.stringify(project, null, 2));
    git(fx.work, "commit", "--quiet", "--all", "--message", "replacements");
    git(fx.work, "push", "--quiet", fx.bare, "HEAD:refs/heads/replacements");
    git(fx.work, "reset", "--quiet", "--hard", fx.v2);
    const prepared = await prepareSourceDeploy(opts({ repo: fx.url, ref: "replacements" }));
    expect(prepared.warnings).toEqual([expect.stringMatching(/replacements: the runner does not apply them/)]);
    const cls = (await unzip(prepared.zip)).get("classes/InvoiceService.cls");
    expect(cls).toContain("FROM Invoice__c");
    expect(cls).not.toContain("LEAKED");
    await prepared.cleanup();
  });
});
