import type { PrepareSourceDeployOptions } from "./index.ts";
// Shared by the source tests: the sfdx fixture project (test/fixtures/sfdx-project) committed into a
// real repository with a history, served by a real git server that wants a token; and a zip reader.
import { execFileSync } from "node:child_process";
import { cp, mkdir, mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import JSZip from "jszip";
import { type GitServer, startGitServer } from "../../test/doubles/git-server.ts";
import { SourceError } from "./errors.ts";

export const FIXTURE = join(import.meta.dirname, "../../test/fixtures/sfdx-project");
export const TOKEN = "ghp_fixtureToken0123456789abcdefABCDEF";

const IDENTITY = {
  GIT_AUTHOR_NAME: "Fixture",
  GIT_AUTHOR_EMAIL: "fixture@example.com",
  GIT_COMMITTER_NAME: "Fixture",
  GIT_COMMITTER_EMAIL: "fixture@example.com",
  GIT_CONFIG_NOSYSTEM: "1",
  GIT_CONFIG_GLOBAL: "/dev/null",
};

export function git(cwd: string, ...args: string[]): string {
  return execFileSync("git", args, { cwd, encoding: "utf8", env: { ...process.env, ...IDENTITY } }).trim();
}

export interface FixtureRepo {
  /** The work tree the commits were made in. */
  work: string;
  /** The bare repository the server serves. */
  bare: string;
  /** v1: the fixture as is (tagged v1). v2: the delta commit (main). */
  v1: string;
  v2: string;
}

/** Every component of the fixture at v1, as SDR's package.xml names them. */
export const FIXTURE_COMPONENTS = {
  ApexClass: ["InvoiceService", "InvoiceServiceTest", "LegacyInvoiceHelper", "StringUtils"],
  AuraDefinitionBundle: ["invoiceBanner"],
  CustomField: ["Invoice__c.Amount__c", "Invoice__c.Due_Date__c"],
  CustomLabel: ["Invoice_Overdue", "Invoice_Paid"],
  CustomLabels: ["CustomLabels"],
  CustomObject: ["Invoice__c"],
  Flow: ["Invoice_Reminder"],
  Layout: ["Invoice__c-Invoice Layout"],
  LightningComponentBundle: ["invoiceList"],
  ListView: ["Invoice__c.All"],
  PermissionSet: ["Invoice_Manager"],
  StaticResource: ["invoiceAssets"],
};

/** The changes of the second commit, and what a delta from v1 to v2 must hold. */
export const DELTA = {
  changed: { ApexClass: ["InvoiceService"], CustomField: ["Invoice__c.Status__c"], CustomLabel: ["Invoice_Paid"] },
  deleted: { ApexClass: ["LegacyInvoiceHelper"] },
};

/** Builds the fixture's history: v1 = the fixture, v2 = DELTA's changes plus an edit to a forceignored class. */
export async function buildFixtureRepo(root: string, name = "acme/crm"): Promise<FixtureRepo> {
  const work = join(root, "work");
  await cp(FIXTURE, work, { recursive: true });
  git(work, "init", "--quiet", "--initial-branch=main");
  git(work, "add", "--all");
  git(work, "commit", "--quiet", "--message", "Invoices: object, service, UI");
  git(work, "tag", "v1");
  const v1 = git(work, "rev-parse", "HEAD");

  const d = join(work, "force-app/main/default");
  await writeFile(
    join(d, "classes/InvoiceService.cls"),
    "public with sharing class InvoiceService {\n    public static List<Invoice__c> overdue() {\n        return [SELECT Id, Name, Status__c FROM Invoice__c WHERE Due_Date__c < TODAY AND Status__c != 'Paid'];\n    }\n}\n",
  );
  await writeFile(
    join(d, "objects/Invoice__c/fields/Status__c.field-meta.xml"),
    '<?xml version="1.0" encoding="UTF-8"?>\n<CustomField xmlns="http://soap.sforce.com/2006/04/metadata">\n    <fullName>Status__c</fullName>\n    <label>Status</label>\n    <required>false</required>\n    <type>Text</type>\n    <length>40</length>\n</CustomField>\n',
  );
  git(work, "rm", "--quiet", "force-app/main/default/classes/LegacyInvoiceHelper.cls", "force-app/main/default/classes/LegacyInvoiceHelper.cls-meta.xml");
  const labels = join(d, "labels/CustomLabels.labels-meta.xml");
  await writeFile(labels, (await readFile(labels, "utf8")).replace("Paid in full.", "Paid in full, thank you."));
  await writeFile(join(d, "classes/ScratchOrgSetup.cls"), "public class ScratchOrgSetup {\n    public static void seed() { System.debug('seeded'); }\n}\n");
  git(work, "add", "--all");
  git(work, "commit", "--quiet", "--message", "Invoice status; drop the legacy helper");
  const v2 = git(work, "rev-parse", "HEAD");

  const bare = join(root, "served", `${name}.git`);
  await mkdir(join(bare, ".."), { recursive: true });
  git(root, "clone", "--quiet", "--bare", work, bare);
  return { work, bare, v1, v2 };
}

export interface FixtureServer extends FixtureRepo {
  server: GitServer;
  /** http://127.0.0.1:<port>/acme/crm.git */
  url: string;
  root: string;
  close(): Promise<void>;
}

export async function startFixtureServer(): Promise<FixtureServer> {
  const root = await mkdtemp(join(tmpdir(), "sfp-source-fixture-"));
  const repo = await buildFixtureRepo(root);
  const server = await startGitServer({ root: join(root, "served"), token: TOKEN });
  return {
    ...repo,
    server,
    root,
    url: `${server.url}/acme/crm.git`,
    async close() {
      await server.close();
      await rm(root, { recursive: true, force: true });
    },
  };
}

/** Every file of a zip, by path, as text. */
export async function unzip(zip: Buffer): Promise<Map<string, string>> {
  const archive = await JSZip.loadAsync(zip);
  const files = new Map<string, string>();
  for (const [path, entry] of Object.entries(archive.files)) {
    if (!entry.dir) files.set(path, await entry.async("string"));
  }
  return files;
}

export async function unzipBinary(zip: Buffer, path: string): Promise<Buffer> {
  const archive = await JSZip.loadAsync(zip);
  const entry = archive.file(path);
  if (!entry) throw new Error(`${path} is not in the zip`);
  return entry.async("nodebuffer");
}

/** package.xml (or a destructive manifest) as type → sorted members, plus its version. */
export function parseManifest(xml: string): { types: Record<string, string[]>; version: string } {
  const types: Record<string, string[]> = {};
  for (const block of xml.matchAll(/<types>([\s\S]*?)<\/types>/g)) {
    const name = /<name>([^<]+)<\/name>/.exec(block[1])?.[1] ?? "";
    types[name] = [...block[1].matchAll(/<members>([^<]+)<\/members>/g)].map((m) => m[1]).sort();
  }
  return { types, version: /<version>([^<]+)<\/version>/.exec(xml)?.[1] ?? "" };
}

/** What a test job hands prepareSourceDeploy: the fixture's token, a cache and job dirs under `scratch`. */
export function jobOptions(scratch: string, source: PrepareSourceDeployOptions["source"]): PrepareSourceDeployOptions {
  return { source, token: TOKEN, cacheDir: join(scratch, "cache"), workDir: join(scratch, "jobs"), signal: new AbortController().signal, allowLocalHttp: true };
}

/** The SourceError a promise rejects with (anything else fails the test). */
export async function sourceFailure(p: Promise<unknown>): Promise<SourceError> {
  const err = await p.then(
    () => undefined,
    (e: unknown) => e,
  );
  if (!(err instanceof SourceError)) throw new Error(`expected a SourceError, got ${String(err)}`);
  return err;
}
