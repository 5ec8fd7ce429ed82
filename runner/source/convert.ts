// Source format → a metadata-format deploy zip, by source-deploy-retrieve (SDR), the library the sf CLI
// deploys with: it resolves the package directories (sfdx-project.json's registry settings,
// .forceignore), recomposes decomposed types (objects and their fields, list views…), keeps bundles
// (LWC, Aura) whole, merges custom labels, zips static resource folders, and writes package.xml and,
// for deletions, destructiveChangesPost.xml. What is here: choosing the components, keeping SDR
// offline (the manifest's version is always set, so SDR never asks the internet for one), counting,
// and the size limit.
import { join } from "node:path";
import type { ComponentSet, RegistryAccess } from "@salesforce/source-deploy-retrieve";
import { SourceError } from "./errors.ts";
import { loadSdr } from "./libs.ts";
import type { Project } from "./project.ts";

/** Salesforce's limit on a deploy zip (39 MB compressed). */
export const MAX_DEPLOY_ZIP_BYTES = 39 * 1024 * 1024;

/** Metadata type name → member names, as in a package.xml. */
export type Manifest = Map<string, Set<string>>;

export interface ConvertInput {
  project: Project;
  /** Only these components (a delta's changes); without it, everything in the package directories. */
  include?: Manifest;
  /** Components to delete after the deploy (destructiveChangesPost.xml). */
  destructive?: Manifest;
}

export interface Converted {
  zip: Buffer;
  /** Members in package.xml. */
  components: number;
  /** Members in destructiveChangesPost.xml. */
  destructive: number;
  warnings: string[];
}

export async function convertToZip(input: ConvertInput): Promise<Converted> {
  const { project } = input;
  const sdr = await loadSdr();
  const registry = new sdr.RegistryAccess(undefined, project.dir);
  const fsPaths = project.packageDirectories.map((d) => join(project.dir, d));
  const warnings: string[] = [];
  try {
    let cs: ComponentSet;
    if (input.include === undefined) {
      cs = sdr.ComponentSet.fromSource({ fsPaths, registry });
    } else if (countMembers(input.include) === 0) {
      cs = new sdr.ComponentSet([], registry);
    } else {
      const filter = new sdr.ComponentSet([], registry);
      for (const [type, member] of members(input.include)) filter.add({ fullName: member, type: typeOf(registry, type) });
      cs = sdr.ComponentSet.fromSource({ fsPaths, registry, include: filter });
    }
    for (const [type, member] of members(input.destructive ?? new Map())) {
      cs.add(new sdr.SourceComponent({ name: member, type: typeOf(registry, type) }), sdr.DestructiveChangesType.POST);
    }
    cs.sourceApiVersion = project.apiVersion;
    cs.apiVersion = project.apiVersion;
    cs.projectDirectory = project.dir;

    const manifest = toManifest((await cs.getObject()).Package.types);
    const components = countMembers(manifest);
    const destructive = input.destructive ? countMembers(toManifest((await cs.getObject(sdr.DestructiveChangesType.POST)).Package.types)) : 0;
    if (input.include === undefined && components === 0) {
      throw new SourceError("invalid_source", `no metadata in ${project.packageDirectories.join(", ")}`);
    }
    for (const [type, member] of members(input.include ?? new Map())) {
      if (!manifest.get(type)?.has(member)) warnings.push(`${type} ${member} changed, but there is no source to deploy for it (forceignored?)`);
    }

    const result = await new sdr.MetadataConverter(registry).convert(cs, "metadata", { type: "zip" });
    const zip = result.zipBuffer;
    if (!zip) throw new SourceError("conversion_failed", "source-deploy-retrieve returned no zip");
    if (zip.length > MAX_DEPLOY_ZIP_BYTES) {
      throw new SourceError(
        "too_large",
        `the converted zip has ${zip.length} bytes, over Salesforce's ${MAX_DEPLOY_ZIP_BYTES}: deploy fewer package directories or a delta`,
      );
    }
    return { zip, components, destructive, warnings };
  } catch (err) {
    if (err instanceof SourceError) throw err;
    const message = err instanceof Error ? err.message : String(err);
    throw new SourceError("conversion_failed", message.split(`${project.dir}/`).join(""));
  }
}

function typeOf(registry: RegistryAccess, name: string) {
  try {
    return registry.getTypeByName(name);
  } catch {
    throw new SourceError("conversion_failed", `source-deploy-retrieve does not know the metadata type ${name}`);
  }
}

function* members(manifest: Manifest): Generator<[string, string]> {
  for (const [type, names] of manifest) for (const name of names) yield [type, name];
}

export function countMembers(manifest: Manifest): number {
  let n = 0;
  for (const names of manifest.values()) n += names.size;
  return n;
}

function toManifest(types: Array<{ name: string; members: string[] }>): Manifest {
  return new Map(types.map((t) => [t.name, new Set(t.members)]));
}
