// Zip archives for the Salesforce doubles: a writer (stored entries, which every reader opens) for the
// tests' metadata packages, and a strict reader (stored and deflated entries, checked CRCs) for what a
// deploy sends, so the double answers from the zip's real contents.
import { crc32, deflateRawSync, inflateRawSync } from "node:zlib";

export class ZipError extends Error {
  override name = "ZipError";
}

/** A valid zip holding the given files, in the given order: stored, or deflated as most tools write them. */
export function makeZip(files: Record<string, string | Buffer>, opts: { deflate?: boolean } = {}): Buffer {
  const method = opts.deflate ? 8 : 0;
  const locals: Buffer[] = [];
  const centrals: Buffer[] = [];
  let offset = 0;
  for (const [name, content] of Object.entries(files)) {
    const raw = typeof content === "string" ? Buffer.from(content, "utf8") : content;
    const data = opts.deflate ? deflateRawSync(raw) : raw;
    const nameBuf = Buffer.from(name, "utf8");
    const crc = crc32(raw);
    const local = Buffer.alloc(30);
    local.writeUInt32LE(0x04034b50, 0);
    local.writeUInt16LE(20, 4);
    local.writeUInt16LE(0x0800, 6); // names are UTF-8
    local.writeUInt16LE(method, 8);
    local.writeUInt32LE(crc, 14);
    local.writeUInt32LE(data.length, 18);
    local.writeUInt32LE(raw.length, 22);
    local.writeUInt16LE(nameBuf.length, 26);
    const central = Buffer.alloc(46);
    central.writeUInt32LE(0x02014b50, 0);
    central.writeUInt16LE(20, 4);
    central.writeUInt16LE(20, 6);
    central.writeUInt16LE(0x0800, 8);
    central.writeUInt16LE(method, 10);
    central.writeUInt32LE(crc, 16);
    central.writeUInt32LE(data.length, 20);
    central.writeUInt32LE(raw.length, 24);
    central.writeUInt16LE(nameBuf.length, 28);
    central.writeUInt32LE(offset, 42);
    locals.push(local, nameBuf, data);
    centrals.push(central, nameBuf);
    offset += local.length + nameBuf.length + data.length;
  }
  const centralSize = centrals.reduce((n, b) => n + b.length, 0);
  const end = Buffer.alloc(22);
  end.writeUInt32LE(0x06054b50, 0);
  end.writeUInt16LE(Object.keys(files).length, 8);
  end.writeUInt16LE(Object.keys(files).length, 10);
  end.writeUInt32LE(centralSize, 12);
  end.writeUInt32LE(offset, 16);
  return Buffer.concat([...locals, ...centrals, end]);
}

const EOCD = 0x06054b50;
const CENTRAL = 0x02014b50;
const LOCAL = 0x04034b50;

/**
 * The files of a zip by path (directories left out), read through its central directory. Throws
 * ZipError for anything it cannot open faithfully: no end record, zip64, encryption, a method other
 * than stored or deflate, sizes or a CRC that do not match, a path that climbs out of the archive.
 */
export function readZip(zip: Buffer): Map<string, Buffer> {
  const min = Math.max(0, zip.length - 22 - 0xffff);
  let end = -1;
  for (let i = zip.length - 22; i >= min; i--) {
    if (zip.readUInt32LE(i) === EOCD) {
      end = i;
      break;
    }
  }
  if (end < 0) throw new ZipError("not a zip file (no end of central directory record)");
  const count = zip.readUInt16LE(end + 10);
  const size = zip.readUInt32LE(end + 12);
  let at = zip.readUInt32LE(end + 16);
  if (count === 0xffff || size === 0xffffffff || at === 0xffffffff) throw new ZipError("zip64 archives are not supported");
  if (at + size > end) throw new ZipError("the central directory runs past its end record");
  const files = new Map<string, Buffer>();
  for (let n = 0; n < count; n++) {
    if (at + 46 > end || zip.readUInt32LE(at) !== CENTRAL) throw new ZipError(`central directory entry ${n} is malformed`);
    const flags = zip.readUInt16LE(at + 8);
    const method = zip.readUInt16LE(at + 10);
    const crc = zip.readUInt32LE(at + 16);
    const packed = zip.readUInt32LE(at + 20);
    const unpacked = zip.readUInt32LE(at + 24);
    const nameLength = zip.readUInt16LE(at + 28);
    const extraLength = zip.readUInt16LE(at + 30);
    const commentLength = zip.readUInt16LE(at + 32);
    const localAt = zip.readUInt32LE(at + 42);
    const name = zip.subarray(at + 46, at + 46 + nameLength).toString(flags & 0x0800 ? "utf8" : "latin1");
    at += 46 + nameLength + extraLength + commentLength;
    if (flags & 0x0001) throw new ZipError(`${name} is encrypted`);
    if (name.startsWith("/") || name.split("/").includes("..") || name.includes("\\")) throw new ZipError(`${name} is not a relative path inside the archive`);
    if (name.endsWith("/")) continue;
    if (localAt + 30 > zip.length || zip.readUInt32LE(localAt) !== LOCAL) throw new ZipError(`${name}: no local header where the directory says`);
    const dataAt = localAt + 30 + zip.readUInt16LE(localAt + 26) + zip.readUInt16LE(localAt + 28);
    if (dataAt + packed > zip.length) throw new ZipError(`${name} runs past the end of the archive`);
    const raw = zip.subarray(dataAt, dataAt + packed);
    let data: Buffer;
    if (method === 0) data = Buffer.from(raw);
    else if (method === 8) {
      try {
        data = inflateRawSync(raw);
      } catch (err) {
        throw new ZipError(`${name} does not inflate: ${err instanceof Error ? err.message : String(err)}`);
      }
    } else throw new ZipError(`${name} uses compression method ${method}`);
    if (data.length !== unpacked) throw new ZipError(`${name} is ${data.length} bytes, not the ${unpacked} its directory entry says`);
    if (crc32(data) !== crc) throw new ZipError(`${name} fails its CRC check`);
    if (files.has(name)) throw new ZipError(`${name} is in the archive twice`);
    files.set(name, data);
  }
  return files;
}
