// Reading a delivery's body with a hard size limit. A sender may lie about Content-Length or omit it
// (chunked), so the declared length only lets us refuse early; the stream is counted as it is read
// and abandoned the moment it passes the limit, so an oversized body is never held in memory.
import { ApiError } from "../../protocol/errors.ts";
import { MAX_WEBHOOK_BODY_BYTES } from "../../protocol/webhook.ts";

export async function readLimitedBody(req: Request, limit = MAX_WEBHOOK_BODY_BYTES): Promise<Uint8Array> {
  const declared = req.headers.get("content-length");
  if (declared !== null) {
    if (!/^\d{1,15}$/.test(declared.trim())) {
      await req.body?.cancel();
      throw new ApiError("invalid_request", "Content-Length is not a number", { field: "content-length" });
    }
    if (Number(declared) > limit) {
      await req.body?.cancel();
      throw tooLarge(limit);
    }
  }
  if (req.body === null) return new Uint8Array(0);
  const reader = req.body.getReader();
  const chunks: Uint8Array[] = [];
  let total = 0;
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    total += value.byteLength;
    if (total > limit) {
      await reader.cancel();
      throw tooLarge(limit);
    }
    chunks.push(value);
  }
  if (chunks.length === 1) return chunks[0];
  const out = new Uint8Array(total);
  let at = 0;
  for (const c of chunks) {
    out.set(c, at);
    at += c.byteLength;
  }
  return out;
}

function tooLarge(limit: number): ApiError {
  return new ApiError("too_large", `the body is larger than ${limit} bytes`);
}

const strictUtf8 = new TextDecoder("utf-8", { fatal: true, ignoreBOM: false });

/** Decodes UTF-8 and refuses invalid sequences (400) rather than replacing them silently. */
export function decodeUtf8(bytes: Uint8Array): string {
  try {
    return strictUtf8.decode(bytes);
  } catch {
    throw new ApiError("invalid_request", "the body is not valid UTF-8");
  }
}

/** Parses a JSON object body; anything else (arrays, scalars, bad JSON) is a 400. */
export function parseJsonObject(text: string): Record<string, unknown> {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    throw new ApiError("invalid_json", "the body is not valid JSON");
  }
  if (typeof value !== "object" || value === null || Array.isArray(value)) throw new ApiError("invalid_json", "the body must be a JSON object");
  return value as Record<string, unknown>;
}
