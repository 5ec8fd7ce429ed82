// Answers shaped like a real org's: ids with the right key prefixes, identity, limits; and the metadata
// packages tests deploy (real files and package.xml, zipped).
import { randomBytes } from "node:crypto";
import { FOLDER_TYPES, packageXml } from "./metadata-package.ts";
import { METADATA_NS } from "./xml.ts";
import { makeZip } from "./zip.ts";

export { makeZip };

const ALNUM = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";

/** An 18-character id with a key prefix (0Af deploy, 09S retrieve, 707 Apex job, 07M test result…). */
export function sfId(prefix: string): string {
  const bytes = randomBytes(15 - prefix.length);
  let body = "";
  for (const b of bytes) body += ALNUM[b % ALNUM.length];
  return `${prefix}${body}AAA`.slice(0, 18);
}

export const API_VERSIONS = ["58.0", "59.0", "60.0", "61.0", "62.0", "63.0", "64.0"];
const RELEASES: Record<string, string> = {
  "58.0": "Summer '23",
  "59.0": "Winter '24",
  "60.0": "Spring '24",
  "61.0": "Summer '24",
  "62.0": "Winter '25",
  "63.0": "Spring '25",
  "64.0": "Summer '25",
};

export function versions(_base: string) {
  return API_VERSIONS.map((v) => ({ label: RELEASES[v], url: `/services/data/v${v}`, version: v }));
}

export function identity(base: string, orgId: string, userId: string, username: string) {
  return {
    id: `${base}/id/${orgId}/${userId}`,
    asserted_user: true,
    user_id: userId,
    organization_id: orgId,
    username,
    nick_name: username.split("@")[0],
    display_name: "Integration User",
    email: username,
    email_verified: true,
    first_name: "Integration",
    last_name: "User",
    timezone: "Europe/Paris",
    active: true,
    user_type: "STANDARD",
    language: "en_US",
    locale: "en_US",
    utcOffset: 3600000,
    last_modified_date: "2025-01-15T09:12:44Z",
    is_app_installed: true,
    urls: {
      enterprise: `${base}/services/Soap/c/{version}/${orgId}`,
      metadata: `${base}/services/Soap/m/{version}/${orgId}`,
      partner: `${base}/services/Soap/u/{version}/${orgId}`,
      rest: `${base}/services/data/v{version}/`,
      sobjects: `${base}/services/data/v{version}/sobjects/`,
      query: `${base}/services/data/v{version}/query/`,
      tooling_rest: `${base}/services/data/v{version}/tooling/`,
      profile: `${base}/${userId}`,
    },
  };
}

export function limits() {
  return {
    ConcurrentAsyncGetReportInstances: { Max: 200, Remaining: 200 },
    DailyApiRequests: { Max: 15000, Remaining: 14873 },
    DailyAsyncApexExecutions: { Max: 250000, Remaining: 250000 },
    DailyBulkApiBatches: { Max: 15000, Remaining: 15000 },
    DailyMetadataRetrievesWithDependencies: { Max: 50, Remaining: 50 },
    DataStorageMB: { Max: 5, Remaining: 5 },
    FileStorageMB: { Max: 20, Remaining: 20 },
    HourlyTimeBasedWorkflow: { Max: 50, Remaining: 50 },
    SingleEmail: { Max: 15, Remaining: 15 },
  };
}

/** A component of a test's metadata package: its type and full name (as package.xml names it). */
export interface PackageComponent {
  componentType: string;
  fullName: string;
}

/** The package most tests deploy: two classes, a custom object and its layout (four components). */
export const SAMPLE_COMPONENTS: PackageComponent[] = [
  { componentType: "ApexClass", fullName: "AccountService" },
  { componentType: "ApexClass", fullName: "AccountServiceTest" },
  { componentType: "CustomObject", fullName: "Invoice__c" },
  { componentType: "Layout", fullName: "Invoice__c-Invoice Layout" },
];

const xmlFile = (root: string, inner: string) => `<?xml version="1.0" encoding="UTF-8"?>\n<${root} xmlns="${METADATA_NS}">\n${inner}</${root}>\n`;

/** The files of one component in Metadata API format, as `sf project convert source` writes them. */
export function componentFiles(c: PackageComponent, version = "62.0"): Record<string, string> {
  const spec = FOLDER_TYPES[c.componentType];
  if (!spec) throw new Error(`the doubles write no files for ${c.componentType}`);
  const meta = (root: string) => xmlFile(root, `    <apiVersion>${version}</apiVersion>\n    <status>Active</status>\n`);
  switch (c.componentType) {
    case "ApexClass": {
      const body = c.fullName.endsWith("Test")
        ? `@IsTest\nprivate class ${c.fullName} {\n    @IsTest\n    static void creates() {\n        System.assert(true);\n    }\n}\n`
        : `public with sharing class ${c.fullName} {\n}\n`;
      return { [`classes/${c.fullName}.cls`]: body, [`classes/${c.fullName}.cls-meta.xml`]: meta("ApexClass") };
    }
    case "ApexTrigger":
      return {
        [`triggers/${c.fullName}.trigger`]: `trigger ${c.fullName} on Account (before insert) {\n}\n`,
        [`triggers/${c.fullName}.trigger-meta.xml`]: meta("ApexTrigger"),
      };
    case "CustomObject":
      return {
        [`objects/${c.fullName}.object`]: xmlFile(
          "CustomObject",
          `    <deploymentStatus>Deployed</deploymentStatus>\n    <label>${c.fullName.replace(/__c$/, "")}</label>\n    <nameField>\n        <label>Name</label>\n        <type>Text</type>\n    </nameField>\n    <pluralLabel>${c.fullName.replace(/__c$/, "")}s</pluralLabel>\n    <sharingModel>ReadWrite</sharingModel>\n`,
        ),
      };
    case "LightningComponentBundle":
    case "AuraDefinitionBundle":
      return {
        [`${spec.folder}/${c.fullName}/${c.fullName}.js`]: "export default class {}\n",
        [`${spec.folder}/${c.fullName}/${c.fullName}.js-meta.xml`]: xmlFile(
          "LightningComponentBundle",
          `    <apiVersion>${version}</apiVersion>\n    <isExposed>false</isExposed>\n`,
        ),
      };
    default:
      return { [`${spec.folder}/${c.fullName}${spec.suffix ?? ""}`]: xmlFile(c.componentType, `    <label>${c.fullName}</label>\n`) };
  }
}

/** The files of a metadata package holding these components, with its package.xml, under `folder` ("" for the root). */
export function metadataFiles(components: PackageComponent[] = SAMPLE_COMPONENTS, opts: { version?: string; folder?: string } = {}): Record<string, string> {
  const version = opts.version ?? "62.0";
  const types: Record<string, string[]> = {};
  const files: Record<string, string> = {};
  for (const c of components) {
    types[c.componentType] = [...(types[c.componentType] ?? []), c.fullName];
    Object.assign(files, componentFiles(c, version));
  }
  const all: Record<string, string> = { "package.xml": packageXml(types, version), ...files };
  const prefix = opts.folder ? `${opts.folder}/` : "";
  return Object.fromEntries(Object.entries(all).map(([path, text]) => [`${prefix}${path}`, text]));
}

/** A deployable zip: these components (default the four of SAMPLE_COMPONENTS) and their package.xml. */
export function metadataZip(components: PackageComponent[] = SAMPLE_COMPONENTS, opts: { version?: string; folder?: string; deflate?: boolean } = {}): Buffer {
  return makeZip(metadataFiles(components, opts), { deflate: opts.deflate });
}
