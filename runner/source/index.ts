// What the worker calls for a deploy or validate whose payload names `source`: an sfdx project at a
// git commit becomes a metadata deploy zip (whole, or the delta since `delta.from` with its
// destructive changes). See README.md beside this file.
import { CanceledError } from "../salesforce/context.ts";
import { type Checkout, checkout } from "./checkout.ts";
import { convertToZip } from "./convert.ts";
import { computeDelta } from "./delta.ts";
import { gitProgress } from "./progress.ts";
import { readProject } from "./project.ts";

export { SourceError, type SourceErrorCode } from "./errors.ts";
export { MAX_DEPLOY_ZIP_BYTES } from "./convert.ts";

export interface SourceSpec {
  repo: string;
  ref: string;
  packageDirectories?: string[];
  delta?: { from: string };
}

export interface SourceProgress {
  stage: "fetch" | "checkout" | "delta" | "convert";
  message: string;
}

export interface PrepareSourceDeployOptions {
  source: SourceSpec;
  /** The repository's token (none for a public repository); it goes to git's credential helper only. */
  token?: string;
  /** User name sent with the token (default `x-access-token`). */
  username?: string;
  /** The host's checkout cache (one bare mirror per repository URL). */
  cacheDir: string;
  /** The job's checkout is made in a new directory under this one, removed by cleanup(). */
  workDir: string;
  signal: AbortSignal;
  onProgress?: (p: SourceProgress) => void;
  /** Plain http to a loopback host (local development and tests). */
  allowLocalHttp?: boolean;
  /** Hosts fetched from even when they resolve to private addresses (SFP_SOURCE_ALLOWED_HOSTS). */
  allowedHosts?: string[];
  /** The manifest's version when sfdx-project.json has no sourceApiVersion. */
  apiVersion?: string;
  /** The git program (default `git` on PATH). */
  git?: string;
}

export interface PreparedSourceDeploy {
  /** The commit deployed (a branch or tag resolved once, here): record it in the task. */
  sha: string;
  fromSha?: string;
  /** Metadata-format zip: package.xml at its root (deploy with singlePackage: true). */
  zip: Buffer;
  /** Members of package.xml. */
  components: number;
  /** Members of destructiveChangesPost.xml (delta only). */
  destructive: number;
  packageDirectories: string[];
  apiVersion: string;
  /** Objects this job's fetch added to the host's cache. */
  fetchedObjects: number;
  warnings: string[];
  /** The checkout, until cleanup(). */
  dir: string;
  cleanup(): Promise<void>;
}

export async function prepareSourceDeploy(opts: PrepareSourceDeployOptions): Promise<PreparedSourceDeploy> {
  const { source, signal } = opts;
  const report = (stage: SourceProgress["stage"], message: string) => opts.onProgress?.({ stage, message });
  report("fetch", `fetching ${source.ref}${source.delta ? ` and ${source.delta.from}` : ""}`);
  const co: Checkout = await checkout({
    repo: source.repo,
    ref: source.ref,
    from: source.delta?.from,
    token: opts.token,
    username: opts.username,
    cacheDir: opts.cacheDir,
    workDir: opts.workDir,
    signal,
    allowLocalHttp: opts.allowLocalHttp,
    allowedHosts: opts.allowedHosts,
    git: opts.git,
    onStderr: gitProgress((line) => report("fetch", line)),
  });
  try {
    report("checkout", `checked out ${co.sha} (${co.fetchedObjects} new objects fetched)`);
    const project = await readProject(co.dir, { packageDirectories: source.packageDirectories, apiVersion: opts.apiVersion });
    const warnings = [...project.warnings];
    let include: Awaited<ReturnType<typeof computeDelta>>["additions"] | undefined;
    let destructive: typeof include;
    if (co.fromSha !== undefined) {
      if (signal.aborted) throw new CanceledError();
      report("delta", `comparing ${co.fromSha} with ${co.sha}`);
      const delta = await computeDelta({ project, from: co.fromSha, to: co.sha, scratch: co.root });
      include = delta.additions;
      destructive = delta.deletions;
      warnings.push(...delta.warnings);
    }
    if (signal.aborted) throw new CanceledError();
    report("convert", `converting ${project.packageDirectories.join(", ")}`);
    const converted = await convertToZip({ project, include, destructive });
    warnings.push(...converted.warnings);
    if (signal.aborted) throw new CanceledError();
    report("convert", `${converted.components} components, ${converted.destructive} to delete, ${converted.zip.length} bytes`);
    return {
      sha: co.sha,
      fromSha: co.fromSha,
      zip: converted.zip,
      components: converted.components,
      destructive: converted.destructive,
      packageDirectories: project.packageDirectories,
      apiVersion: project.apiVersion,
      fetchedObjects: co.fetchedObjects,
      warnings,
      dir: co.dir,
      cleanup: co.cleanup,
    };
  } catch (err) {
    await co.cleanup();
    throw err;
  }
}
