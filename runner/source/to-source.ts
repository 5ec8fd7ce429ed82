// A retrieved metadata-format zip → the same components in source format (sfdx project layout), by
// source-deploy-retrieve, as `sf project retrieve start` writes them: classes as `.cls` +
// `-meta.xml`, objects decomposed into fields and list views, bundles as folders, labels per file.
// The zip's paths are package-directory relative (`main/default/classes/A.cls`): unzip it into a
// package directory such as `force-app/`.
import { SourceError } from "./errors.ts";
import { loadSdr } from "./libs.ts";

export interface SourceZip {
  zip: Buffer;
  /** Components converted. */
  components: number;
}

/**
 * Converts every package of a retrieve's zip (one `package.xml` at the root, or one per top-level
 * folder such as `unpackaged/`). `apiVersion` is set so SDR never asks the internet for one.
 */
export async function metadataZipToSource(zip: Buffer, apiVersion: string): Promise<SourceZip> {
  const sdr = await loadSdr();
  try {
    const tree = await sdr.ZipTreeContainer.create(zip);
    const roots = tree.exists("package.xml") ? ["."] : tree.readDirectory(".").filter((d) => tree.isDirectory(d) && tree.exists(`${d}/package.xml`));
    if (!roots.length) throw new SourceError("conversion_failed", "the retrieved zip has no package.xml");
    const cs = sdr.ComponentSet.fromSource({ fsPaths: roots, tree });
    cs.apiVersion = apiVersion;
    cs.sourceApiVersion = apiVersion;
    const converted = await new sdr.MetadataConverter().convert(cs, "source", { type: "zip" });
    if (!converted.zipBuffer) throw new SourceError("conversion_failed", "source-deploy-retrieve returned no zip");
    return { zip: converted.zipBuffer, components: cs.size };
  } catch (err) {
    if (err instanceof SourceError) throw err;
    throw new SourceError("conversion_failed", `cannot convert the retrieved zip to source format: ${err instanceof Error ? err.message : String(err)}`);
  }
}
