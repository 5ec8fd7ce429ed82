// AES-256-GCM sealing shared by the local file and the Supabase rows. The additional data binds a
// ciphertext to where it belongs (project, alias, key version), so rows cannot be swapped around.
import { createCipheriv, createDecipheriv, randomBytes, scrypt } from "node:crypto";

export const KEY_BYTES = 32;
const IV_BYTES = 12;
const TAG_BYTES = 16;
/** scrypt cost for passphrase-derived keys (the local store); N=2^15 takes ~0.1 s (seconds under load). */
const SCRYPT = { N: 1 << 15, r: 8, p: 1, maxmem: 64 * 1024 * 1024 } as const;

export interface Sealed {
  /** base64 of ciphertext followed by the 16-byte GCM tag */
  ciphertext: string;
  /** base64 of the 12-byte IV */
  iv: string;
}

export function seal(key: Buffer, plaintext: string, aad: string): Sealed {
  const iv = randomBytes(IV_BYTES);
  const cipher = createCipheriv("aes-256-gcm", key, iv);
  cipher.setAAD(Buffer.from(aad, "utf8"));
  const body = Buffer.concat([cipher.update(plaintext, "utf8"), cipher.final(), cipher.getAuthTag()]);
  return { ciphertext: body.toString("base64"), iv: iv.toString("base64") };
}

export class DecryptError extends Error {
  constructor(what: string) {
    super(`cannot decrypt ${what}: wrong key or tampered data`);
    this.name = "DecryptError";
  }
}

export function open(key: Buffer, sealed: Sealed, aad: string, what: string): string {
  try {
    const body = Buffer.from(sealed.ciphertext, "base64");
    // A shorter body would be read as a truncated tag, which GCM would otherwise accept.
    if (body.length < TAG_BYTES) throw new DecryptError(what);
    const decipher = createDecipheriv("aes-256-gcm", key, Buffer.from(sealed.iv, "base64"), { authTagLength: TAG_BYTES });
    decipher.setAAD(Buffer.from(aad, "utf8"));
    decipher.setAuthTag(body.subarray(body.length - TAG_BYTES));
    return Buffer.concat([decipher.update(body.subarray(0, body.length - TAG_BYTES)), decipher.final()]).toString("utf8");
  } catch {
    throw new DecryptError(what);
  }
}

/** Off the event loop (libuv's pool): the manager derives it per lookup and must keep renewing leases. */
export function deriveKey(passphrase: string, salt: Buffer): Promise<Buffer> {
  return new Promise((resolve, reject) => scrypt(passphrase, salt, KEY_BYTES, SCRYPT, (err, key) => (err ? reject(err) : resolve(key))));
}

export function newSalt(): Buffer {
  return randomBytes(16);
}

/** A data key as stored in Infisical: 32 random bytes, base64. */
export function parseDataKey(text: string): Buffer {
  const key = Buffer.from(text.trim(), "base64");
  if (key.length !== KEY_BYTES) throw new Error(`a data key must be ${KEY_BYTES} bytes of base64`);
  return key;
}

export function newDataKey(): string {
  return randomBytes(KEY_BYTES).toString("base64");
}
