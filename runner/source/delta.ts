// Which components changed between two commits, by sfdx-git-delta (sgd) used as a library: it reads
// `git diff` between the commits in the checkout and maps each changed path to its metadata component
// with its own per-API-version registry — a field file to its CustomField, any file of a bundle to the
// bundle, a label edited inside CustomLabels.labels-meta.xml to that one CustomLabel — and a deleted
// component (or label) to a destructive member, dropping deletions that something re-adds. What is
// here: calling it on the job's checkout and handing its two manifests on; SDR then converts only
// those components (convert.ts).
import { access, mkdir } from "node:fs/promises";
import { join } from "node:path";
import type { Manifest } from "./convert.ts";
import { SourceError } from "./errors.ts";
import { loadSgd } from "./libs.ts";
import type { Project } from "./project.ts";

export interface Delta {
  additions: Manifest;
  deletions: Manifest;
  warnings: string[];
}

export async function computeDelta(opts: { project: Project; from: string; to: string; scratch: string }): Promise<Delta> {
  const { project } = opts;
  const sgd = await loadSgd();
  const output = join(opts.scratch, "sgd");
  await mkdir(output, { recursive: true });
  const forceignore = join(project.dir, ".forceignore");
  const ignore = await access(forceignore).then(
    () => forceignore,
    () => undefined,
  );
  try {
    const work = await sgd({
      from: opts.from,
      to: opts.to,
      repo: project.dir,
      source: project.packageDirectories,
      output, // sgd writes its own package.xml there too; only the in-memory manifests are used
      // sgd caches the ignore rules of its first call in the process: right for a worker, which runs one job
      ignore,
      apiVersion: Number.parseInt(project.apiVersion, 10),
      generateDelta: false,
      ignoreWhitespace: false,
    });
    return {
      additions: work.diffs.package,
      deletions: work.diffs.destructiveChanges,
      warnings: work.warnings.map((w) => `sfdx-git-delta: ${w.message}`),
    };
  } catch (err) {
    const message = err instanceof Error ? err.message : String(err);
    throw new SourceError("conversion_failed", `sfdx-git-delta: ${message.split(`${project.dir}/`).join("")}`);
  }
}
