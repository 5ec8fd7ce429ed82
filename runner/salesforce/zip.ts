// The metadata zip of a deploy: inline base64, or downloaded from a URL under the runner's fetch
// policy (zip-fetch.ts: https only, public addresses only, bounded in size and time).
import { OperationError } from "./context.ts";
import { fetchZip, STRICT_ZIP_POLICY, type ZipFetchPolicy } from "./zip-fetch.ts";

/** Salesforce's own limit on a deploy zip (39 MB compressed). */
export const MAX_ZIP_BYTES = 39 * 1024 * 1024;
export const ZIP_FETCH_TIMEOUT_MS = 60_000;

export async function loadZip(
  payload: { zipBase64?: string; zipUrl?: string },
  signal: AbortSignal,
  policy: ZipFetchPolicy = STRICT_ZIP_POLICY,
): Promise<Buffer> {
  if (payload.zipBase64 !== undefined) {
    const zip = Buffer.from(payload.zipBase64, "base64");
    if (zip.length > MAX_ZIP_BYTES) throw new OperationError("invalid_payload", `zipBase64: larger than ${MAX_ZIP_BYTES} bytes`);
    return zip;
  }
  return fetchZip(payload.zipUrl ?? "", {
    policy,
    signal: AbortSignal.any([signal, AbortSignal.timeout(ZIP_FETCH_TIMEOUT_MS)]),
    maxBytes: MAX_ZIP_BYTES,
  });
}
