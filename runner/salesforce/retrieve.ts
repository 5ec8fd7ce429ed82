// retrieve through the Metadata API: start it, then checkRetrieveStatus until done. The zip comes
// back inline (base64) when small enough for a task result, otherwise only its size and file list.
import { MAX_API_BODY_BYTES } from "../../protocol/limits.ts";
import type { RetrievePayload } from "../../protocol/payloads.ts";
import { OperationError, pause, recordCheckpoint, type OperationContext, type OperationResult } from "./context.ts";
import { storeRetrieved } from "./retrieve-artifacts.ts";

/**
 * Bigger zips are not put in the task result: as base64 (4/3 of its size) a zip this big takes two
 * thirds of the finish body the API allows, leaving room for the file list.
 */
export const MAX_INLINE_ZIP_BYTES = MAX_API_BODY_BYTES / 2;

export async function runRetrieve(ctx: OperationContext, payload: RetrievePayload): Promise<OperationResult> {
  // Element order follows the WSDL's RetrieveRequest sequence.
  const request = {
    apiVersion: Number(payload.apiVersion ?? ctx.conn.version),
    ...(payload.packageNames ? { packageNames: payload.packageNames } : {}),
    ...(payload.singlePackage !== undefined ? { singlePackage: payload.singlePackage } : {}),
    ...(payload.unpackaged
      ? {
          unpackaged: {
            objectPermissions: [],
            types: payload.unpackaged.types.map((t) => ({ members: t.members, name: t.name })),
            version: payload.unpackaged.version ?? payload.apiVersion ?? ctx.conn.version,
          },
        }
      : {}),
  };
  const started = await ctx.conn.metadata.retrieve(request);
  ctx.log(`retrieve started: ${started.id}`);
  await recordCheckpoint(ctx, { operation: "retrieve", salesforceId: started.id });
  ctx.progress({ percent: 0, step: "Queued" });
  return followRetrieve(ctx, started.id);
}

/** Polls a started retrieve until it is done. */
export async function followRetrieve(ctx: OperationContext, id: string): Promise<OperationResult> {
  for (;;) {
    await pause(ctx);
    const r = await ctx.conn.metadata.checkRetrieveStatus(id);
    ctx.progress({ percent: r.done ? 100 : 50, step: r.status });
    if (!r.done) continue;
    const files = (r.fileProperties ?? []).map((f) => ({ type: f.type, fullName: f.fullName, fileName: f.fileName }));
    const zip = r.zipFile ? Buffer.from(r.zipFile, "base64") : Buffer.alloc(0);
    const inline = zip.length > 0 && zip.length <= MAX_INLINE_ZIP_BYTES;
    const artifacts = r.status === "Succeeded" ? await storeRetrieved(ctx, zip, ctx.conn.version, inline) : [];
    const result = {
      id: r.id,
      status: r.status,
      success: r.success,
      files,
      messages: (r.messages ?? []).map((m) => ({ fileName: m.fileName, problem: m.problem })),
      zipBytes: zip.length,
      ...(inline ? { zipBase64: r.zipFile } : {}),
      ...(artifacts.length ? { artifacts: artifacts.map((a) => a.name) } : {}),
    };
    ctx.log(`retrieve ${r.id} ${r.status}: ${files.length} file(s), ${zip.length} bytes`);
    if (r.status !== "Succeeded") {
      throw new OperationError("retrieve_failed", `retrieve ${r.id} ${r.status}: ${r.errorMessage ?? "see messages"}`, result);
    }
    return { outcome: "succeeded", result };
  }
}
