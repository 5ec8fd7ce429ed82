// A retrieve's package, kept whole as the task's artifacts: `retrieve.zip` (the metadata-format zip
// Salesforce returned) and `source.zip` (the same components in source format, converted by
// source-deploy-retrieve: unzip it into a package directory). A task result only carries the zip
// inline when it is small; the artifacts carry it at any size, so nothing is dropped for size.
import type { Artifact } from "../../protocol/artifacts.ts";
import { OperationError, type OperationContext } from "./context.ts";

export const RETRIEVE_ZIP = "retrieve.zip";
export const SOURCE_ZIP = "source.zip";

/**
 * Stores the retrieved zip and its source-format conversion; answers their names. A zip too big for
 * the result that cannot be stored fails the retrieve (`artifact_failed`); a failed conversion is only
 * logged (the metadata zip is the retrieve's own answer).
 */
export async function storeRetrieved(ctx: OperationContext, zip: Buffer, apiVersion: string, inline: boolean): Promise<Artifact[]> {
  if (!ctx.storeArtifact || zip.length === 0) return [];
  const stored: Artifact[] = [];
  try {
    stored.push(await ctx.storeArtifact(RETRIEVE_ZIP, zip, "application/zip"));
  } catch (err) {
    const message = err instanceof Error ? err.message : String(err);
    if (!inline)
      throw new OperationError("artifact_failed", `the retrieved zip (${zip.length} bytes) is too big for the result and could not be stored: ${message}`);
    ctx.log(`the retrieved zip stays inline only: ${message}`);
    return stored;
  }
  try {
    const { metadataZipToSource } = await import("../source/to-source.ts");
    const converted = await metadataZipToSource(zip, apiVersion);
    stored.push(await ctx.storeArtifact(SOURCE_ZIP, converted.zip, "application/zip"));
    ctx.log(`stored ${RETRIEVE_ZIP} and ${SOURCE_ZIP} (${converted.components} components in source format)`);
  } catch (err) {
    ctx.log(`no ${SOURCE_ZIP}: ${err instanceof Error ? err.message : String(err)}`);
  }
  return stored;
}
