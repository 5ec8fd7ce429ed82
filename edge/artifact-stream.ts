// The bytes of an artifact between the HTTP request and R2: an upload streams through a SHA-256
// digest into a put of its declared length, chunk by chunk as R2 takes them, never held whole; a
// download reads the byte range a `Range` header asks for.
import { ApiError } from "../protocol/index.ts";

/** Streams `body` (exactly `size` bytes) into `bucket` under `key`; answers the bytes' hex SHA-256. */
export async function storeStreamed(
  bucket: R2Bucket,
  key: string,
  body: ReadableStream<Uint8Array> | null,
  size: number,
  contentType: string,
): Promise<string> {
  const digest = new crypto.DigestStream("SHA-256");
  // A failed upload aborts the digest, rejecting this promise: it is awaited only on success.
  const digested = digest.digest;
  digested.catch(() => undefined);
  const hasher = digest.getWriter();
  const options = { httpMetadata: { contentType } };
  if (size === 0) {
    await body?.cancel();
    await hasher.close();
    await bucket.put(key, new Uint8Array(0), options);
    return hex(await digested);
  }
  if (!body) throw new ApiError("invalid_request", `the body is empty but Content-Length says ${size} bytes`, { field: "content-length" });
  const reader = body.getReader();
  const source = { seen: 0, failed: false };
  // Pulled only as the put takes bytes (no queue of its own), so memory holds a chunk or two, not the body.
  const counted = new ReadableStream<Uint8Array>(
    {
      async pull(controller) {
        let next: ReadableStreamReadResult<Uint8Array>;
        try {
          next = await reader.read();
        } catch (err) {
          source.failed = true;
          throw err;
        }
        if (next.done) {
          if (source.seen !== size) {
            source.failed = true;
            throw new Error(`the body ended after ${source.seen} of ${size} bytes`);
          }
          await hasher.close();
          controller.close();
          return;
        }
        source.seen += next.value.byteLength;
        if (source.seen > size) {
          source.failed = true;
          throw new Error(`the body is longer than its Content-Length of ${size} bytes`);
        }
        await hasher.write(next.value);
        controller.enqueue(next.value);
      },
      cancel: (reason) => reader.cancel(reason),
    },
    { highWaterMark: 0 },
  );
  // R2 takes a stream only when its length is known: FixedLengthStream carries the declared length.
  const fixed = new FixedLengthStream(size);
  const [piped, stored] = await Promise.allSettled([counted.pipeTo(fixed.writable), bucket.put(key, fixed.readable, options)]);
  if (piped.status === "fulfilled" && stored.status === "fulfilled") return hex(await digested);
  await hasher.abort().catch(() => undefined);
  if (source.failed) {
    throw new ApiError("invalid_request", `the upload broke off after ${source.seen} of the ${size} bytes its Content-Length declared; nothing was stored`, {
      field: "content-length",
    });
  }
  const reason = stored.status === "rejected" ? stored.reason : piped.status === "rejected" ? piped.reason : undefined;
  console.log(JSON.stringify({ level: "error", msg: "artifact put failed", error: String(reason) }));
  throw new ApiError("unavailable", "the artifact store did not take the upload; retry");
}

/** The bytes a `Range` header asks of an object of `size` bytes: null for the whole, "unsatisfiable" for 416. */
export function requestedRange(header: string | undefined, size: number): { offset: number; length: number } | "unsatisfiable" | null {
  // One range only (RFC 9110 lets a server ignore what it does not serve): anything else is the whole.
  const m = /^bytes=(\d*)-(\d*)$/.exec(header?.trim() ?? "");
  if (!m || (m[1] === "" && m[2] === "")) return null;
  if (m[1] === "") {
    const suffix = Number(m[2]);
    if (suffix === 0 || size === 0) return "unsatisfiable";
    const length = Math.min(suffix, size);
    return { offset: size - length, length };
  }
  const start = Number(m[1]);
  if (start >= size) return "unsatisfiable";
  const last = m[2] === "" ? size - 1 : Math.min(Number(m[2]), size - 1);
  if (last < start) return null;
  return { offset: start, length: last - start + 1 };
}

function hex(buffer: ArrayBuffer): string {
  return [...new Uint8Array(buffer)].map((b) => b.toString(16).padStart(2, "0")).join("");
}
