// The metadata zip of a deploy: inline base64, or fetched from a URL (bounded in size and time).
import { OperationError } from "./context.ts";

/** Salesforce's own limit on a deploy zip (39 MB compressed). */
export const MAX_ZIP_BYTES = 39 * 1024 * 1024;
export const ZIP_FETCH_TIMEOUT_MS = 60_000;

export async function loadZip(payload: { zipBase64?: string; zipUrl?: string }, signal: AbortSignal): Promise<Buffer> {
  if (payload.zipBase64 !== undefined) {
    const zip = Buffer.from(payload.zipBase64, "base64");
    if (zip.length > MAX_ZIP_BYTES) throw new OperationError("invalid_payload", `zipBase64: larger than ${MAX_ZIP_BYTES} bytes`);
    return zip;
  }
  const url = new URL(payload.zipUrl ?? "");
  const where = `${url.origin}${url.pathname}`; // never the query string: it may hold a signature
  let res: Response;
  try {
    res = await fetch(url, { signal: AbortSignal.any([signal, AbortSignal.timeout(ZIP_FETCH_TIMEOUT_MS)]), redirect: "follow" });
  } catch (err) {
    throw new OperationError("zip_unavailable", `cannot fetch the zip from ${where}: ${err instanceof Error ? err.message : String(err)}`);
  }
  if (!res.ok) {
    await res.body?.cancel();
    throw new OperationError("zip_unavailable", `fetching the zip from ${where} answered HTTP ${res.status}`);
  }
  const declared = Number(res.headers.get("content-length") ?? "0");
  if (declared > MAX_ZIP_BYTES) {
    await res.body?.cancel();
    throw new OperationError("zip_unavailable", `the zip at ${where} is larger than ${MAX_ZIP_BYTES} bytes`);
  }
  const chunks: Uint8Array[] = [];
  let size = 0;
  for await (const chunk of res.body ?? []) {
    size += chunk.length;
    if (size > MAX_ZIP_BYTES) throw new OperationError("zip_unavailable", `the zip at ${where} is larger than ${MAX_ZIP_BYTES} bytes`);
    chunks.push(chunk);
  }
  return Buffer.concat(chunks);
}
