// What the runner reads of a checkout's sfdx-project.json before handing it to source-deploy-retrieve:
// the package directories to convert, the API version of the manifest, and `replacements`, which are
// taken out (with a warning) because they would read the runner host's files and environment.
import { readFile, stat, writeFile } from "node:fs/promises";
import { isAbsolute, join, normalize, sep } from "node:path";
import { z } from "zod";
import { SourceError } from "./errors.ts";

/** The manifest's version when sfdx-project.json names none (SDR would otherwise ask the internet). */
export const FALLBACK_API_VERSION = "62.0";
const API_VERSION = /^\d{2,3}\.0$/;

export interface Project {
  dir: string;
  /** Relative, normalized, `/`-separated; each one exists in the checkout. */
  packageDirectories: string[];
  apiVersion: string;
  warnings: string[];
}

const ProjectJson = z.looseObject({
  packageDirectories: z.array(z.looseObject({ path: z.string() })).optional(),
  sourceApiVersion: z.string().regex(API_VERSION, "like 62.0").optional(),
  replacements: z.unknown().optional(),
});

export async function readProject(dir: string, opts: { packageDirectories?: string[]; apiVersion?: string } = {}): Promise<Project> {
  const file = join(dir, "sfdx-project.json");
  let text: string;
  try {
    text = await readFile(file, "utf8");
  } catch {
    throw new SourceError("invalid_source", "the commit has no sfdx-project.json at its root");
  }
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch (err) {
    throw new SourceError("invalid_source", `sfdx-project.json is not valid JSON: ${err instanceof Error ? err.message : String(err)}`);
  }
  const parsed = ProjectJson.safeParse(raw);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    throw new SourceError("invalid_source", `sfdx-project.json: ${issue?.path.join(".") || "(root)"}: ${issue?.message ?? "invalid"}`);
  }
  const json = parsed.data;

  const declared = (json.packageDirectories ?? []).map((d) => d.path);
  const wanted = opts.packageDirectories ?? declared;
  if (wanted.length === 0) throw new SourceError("invalid_source", "sfdx-project.json declares no packageDirectories");
  const packageDirectories: string[] = [];
  for (const raw of wanted) {
    const rel = normalize(raw).split(sep).join("/").replace(/\/+$/, "");
    if (!rel || rel === "." || isAbsolute(rel) || rel === ".." || rel.startsWith("../")) {
      throw new SourceError("invalid_source", `package directory ${JSON.stringify(raw)} is not a path inside the repository`);
    }
    const isDir = await stat(join(dir, rel)).then(
      (s) => s.isDirectory(),
      () => false,
    );
    if (!isDir) throw new SourceError("invalid_source", `package directory ${rel} is not in the commit`);
    if (!packageDirectories.includes(rel)) packageDirectories.push(rel);
  }

  const apiVersion = json.sourceApiVersion ?? opts.apiVersion ?? FALLBACK_API_VERSION;

  const warnings: string[] = [];
  if (json.replacements !== undefined) {
    // SDR applies them while zipping: replaceWithFile reads any path, replaceWithEnv the worker's environment.
    const { replacements: _dropped, ...rest } = json;
    await writeFile(file, JSON.stringify(rest, null, 2));
    warnings.push("sfdx-project.json has replacements: the runner does not apply them (they read the runner host's files and environment)");
  }
  return { dir, packageDirectories, apiVersion, warnings };
}
