import { randomBytes } from "node:crypto";
import { describe, expect, it } from "vitest";
import { DecryptError, open, seal } from "./crypto.ts";

describe("AES-256-GCM sealing", () => {
  const key = randomBytes(32);

  it("round-trips, bound to its additional data", () => {
    const sealed = seal(key, "force://a:b:c@x", "prj/uat#v1");
    expect(open(key, sealed, "prj/uat#v1", "uat")).toBe("force://a:b:c@x");
    expect(() => open(key, sealed, "prj/prod#v1", "prod")).toThrow(DecryptError);
  });

  it("refuses a truncated tag: a genuine tag's first 4, 8 or 12 bytes are not enough", () => {
    // GCM tags may be truncated: with no fixed length, a body shorter than a full tag would be read
    // as a short tag over empty plaintext, and a forger would need 2^32 tries instead of 2^128.
    const sealed = seal(key, "", "prj/uat#v1");
    const tag = Buffer.from(sealed.ciphertext, "base64");
    expect(tag).toHaveLength(16);
    for (const bytes of [4, 8, 12]) {
      const truncated = { ...sealed, ciphertext: tag.subarray(0, bytes).toString("base64") };
      expect(() => open(key, truncated, "prj/uat#v1", "uat"), `${bytes}-byte tag`).toThrow(DecryptError);
    }
  });

  it("refuses a body shorter than a tag and a tampered body", () => {
    const sealed = seal(key, "secret", "a");
    const body = Buffer.from(sealed.ciphertext, "base64");
    body[0] ^= 1;
    expect(() => open(key, { ...sealed, ciphertext: body.toString("base64") }, "a", "x")).toThrow(DecryptError);
    expect(() => open(key, { ...sealed, ciphertext: "" }, "a", "x")).toThrow(DecryptError);
  });
});
