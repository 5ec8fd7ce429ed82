// The payload each task type carries (task.payload), validated by the runner's worker before it
// touches Salesforce. Import this module directly (it is not re-exported by protocol/index.ts).
import { z } from "zod";
import type { TaskType } from "./task.ts";

/** A Salesforce record id, 15 or 18 characters. */
const SalesforceId = z.string().regex(/^[A-Za-z0-9]{15}([A-Za-z0-9]{3})?$/, "a Salesforce id (15 or 18 characters)");
const ApiVersion = z.string().regex(/^\d{2,3}\.0$/, "an API version such as 62.0");
const ApexName = z
  .string()
  .min(1)
  .max(255)
  .regex(/^[A-Za-z0-9_.]+$/, "an Apex class or suite name");

export const TEST_LEVELS = ["NoTestRun", "RunSpecifiedTests", "RunLocalTests", "RunAllTestsInOrg"] as const;
export const TestLevel = z.enum(TEST_LEVELS);

/** Where the metadata zip comes from: inline (base64), a URL the runner fetches, or `source` (below). Exactly one. */
const ZipSource = {
  zipBase64: z
    .string()
    .min(1)
    .regex(/^[A-Za-z0-9+/]+={0,2}$/, "base64")
    .optional(),
  zipUrl: z
    .string()
    .url()
    .regex(/^https?:\/\//, "an http(s) URL")
    .optional(),
};
/** A commit: 40 hex digits (git's SHA-1 object names). */
const CommitSha = z.string().regex(/^[0-9a-fA-F]{40}$/, "a full 40-hex commit sha");
/** A commit sha, or a branch or tag name as git allows it (no "..", no leading "-", no "//"…). */
const GitRef = z
  .string()
  .min(1)
  .max(255)
  .refine(
    (r) => /^[A-Za-z0-9._/-]+$/.test(r) && !/^[-/.]|\/\.|\.\.|\/\/|[/.]$|\.lock$|\.lock\//.test(r),
    "a 40-hex commit sha, or a branch or tag name (letters, digits, . _ / -)",
  );
const RepoUrl = z
  .string()
  .max(2048)
  .url()
  .regex(/^https?:\/\//, "an https URL (runners take plain http only from loopback, in local development)")
  .refine((u) => {
    try {
      const url = new URL(u);
      return !url.username && !url.password && !url.search && !url.hash;
    } catch {
      return false;
    }
  }, "a repository URL without credentials, query or fragment (register the repository's token with the runners instead)");
/** A folder of the repository, relative to its root. */
const PackageDirectory = z
  .string()
  .min(1)
  .max(255)
  .refine((p) => !/^\/|\\|\0|(^|\/)\.\.(\/|$)/.test(p), "a folder relative to the repository's root, without ..");
/** An sfdx project in source format at a git commit; the runner fetches and converts it. */
export const SourcePayload = z
  .object({
    repo: RepoUrl,
    ref: GitRef,
    packageDirectories: z.array(PackageDirectory).min(1).max(50).optional(),
    delta: z.object({ from: CommitSha }).strict().optional(),
  })
  .strict();
export type SourcePayload = z.infer<typeof SourcePayload>;

const DeployOptions = {
  testLevel: TestLevel.optional(),
  runTests: z.array(ApexName).max(500).optional(),
  ignoreWarnings: z.boolean().optional(),
  rollbackOnError: z.boolean().optional(),
  purgeOnDelete: z.boolean().optional(),
  singlePackage: z.boolean().optional(),
  allowMissingFiles: z.boolean().optional(),
};
const oneZipSource = (p: { zipBase64?: string; zipUrl?: string; source?: SourcePayload }) =>
  [p.zipBase64, p.zipUrl, p.source].filter((v) => v !== undefined).length === 1;
const specifiedTestsNamed = (p: { testLevel?: string; runTests?: string[] }) => p.testLevel !== "RunSpecifiedTests" || (p.runTests?.length ?? 0) > 0;

/** A deploy or validate: a metadata zip (inline or by URL), or an sfdx project at a git commit (`source`). */
export const DeployPayload = z
  .object({ ...ZipSource, source: SourcePayload.optional(), ...DeployOptions })
  .strict()
  .refine(oneZipSource, { message: "give exactly one of zipBase64, zipUrl or source", path: ["zipBase64"] })
  .refine(specifiedTestsNamed, { message: "RunSpecifiedTests needs runTests", path: ["runTests"] });
export type DeployPayload = z.infer<typeof DeployPayload>;

/** validate = a check-only deploy with tests; testLevel defaults to RunLocalTests. */
export const ValidatePayload = DeployPayload;
export type ValidatePayload = DeployPayload;

export const QuickDeployPayload = z.object({ validationId: SalesforceId }).strict();
export type QuickDeployPayload = z.infer<typeof QuickDeployPayload>;

export const RetrievePayload = z
  .object({
    unpackaged: z
      .object({
        types: z.array(z.object({ name: z.string().min(1), members: z.array(z.string().min(1)).min(1) }).strict()).min(1),
        version: ApiVersion.optional(),
      })
      .strict()
      .optional(),
    packageNames: z.array(z.string().min(1)).min(1).optional(),
    apiVersion: ApiVersion.optional(),
    singlePackage: z.boolean().optional(),
  })
  .strict()
  .refine((p) => p.unpackaged !== undefined || p.packageNames !== undefined, {
    message: "give unpackaged or packageNames",
    path: ["unpackaged"],
  });
export type RetrievePayload = z.infer<typeof RetrievePayload>;

export const RunTestsPayload = z
  .object({
    testLevel: z.enum(["RunSpecifiedTests", "RunLocalTests", "RunAllTestsInOrg"]).default("RunSpecifiedTests"),
    classNames: z.array(ApexName).max(500).optional(),
    suiteNames: z.array(ApexName).max(100).optional(),
    skipCodeCoverage: z.boolean().optional(),
  })
  .strict()
  .refine((p) => p.testLevel !== "RunSpecifiedTests" || (p.classNames?.length ?? 0) + (p.suiteNames?.length ?? 0) > 0, {
    message: "RunSpecifiedTests needs classNames or suiteNames",
    path: ["classNames"],
  });
export type RunTestsPayload = z.infer<typeof RunTestsPayload>;

export const MAX_QUERY_RECORDS = 50_000;
export const QueryPayload = z
  .object({
    soql: z.string().min(1).max(100_000),
    tooling: z.boolean().default(false),
    maxRecords: z.number().int().min(1).max(MAX_QUERY_RECORDS).default(2000),
  })
  .strict();
export type QueryPayload = z.infer<typeof QueryPayload>;

export const OrgCheckPayload = z.object({ limits: z.array(z.string().min(1)).max(100).optional() }).strict();
export type OrgCheckPayload = z.infer<typeof OrgCheckPayload>;

export const PAYLOAD_SCHEMAS = {
  deploy: DeployPayload,
  validate: ValidatePayload,
  "quick-deploy": QuickDeployPayload,
  retrieve: RetrievePayload,
  "run-tests": RunTestsPayload,
  query: QueryPayload,
  "org-check": OrgCheckPayload,
} as const satisfies Record<TaskType, z.ZodType>;

export type PayloadOf<T extends TaskType> = z.infer<(typeof PAYLOAD_SCHEMAS)[T]>;
