// The edge remembers tokens and ids whose signature checked out (common/genuine-memo.ts). What it
// remembers must never widen what it accepts: expiry still applies, a forgery is never remembered as
// genuine, and an answer under one key says nothing under another.
import { describe, expect, it } from "vitest";
import { GenuineMemo } from "../../common/genuine-memo.ts";
import { tagMatches, idTag } from "../../common/id-tags.ts";
import { signToken, verifyToken } from "../../common/tokens.ts";

const KEY = "memo-test-signing-key-0123456789";
const OTHER = "memo-test-other-key-9876543210ab";

/** The token with one character of its signature changed. */
function forged(token: string): string {
  const last = token.at(-1) === "A" ? "B" : "A";
  return token.slice(0, -1) + last;
}

describe("remembered token signatures", () => {
  it("still refuses a remembered token once it has expired", async () => {
    const now = Date.now();
    const token = await signToken(KEY, { k: "api", id: "tok_a", p: "prj_a", r: "owner", e: Math.floor(now / 1000) + 60 });
    expect(await verifyToken(KEY, token, now)).toMatchObject({ id: "tok_a" });
    expect(await verifyToken(KEY, token, now)).toMatchObject({ id: "tok_a" });
    expect(await verifyToken(KEY, token, now + 61_000)).toBeNull();
  });

  it("refuses a forgery of a remembered token, every time", async () => {
    const token = await signToken(KEY, { k: "job", t: "tsk_x", p: "prj_a", ep: 1 });
    expect(await verifyToken(KEY, token)).not.toBeNull();
    const fake = forged(token);
    expect(await verifyToken(KEY, fake)).toBeNull();
    expect(await verifyToken(KEY, fake)).toBeNull();
    // The body re-signed by nobody: claims for another task under the genuine signature.
    const [body, sig] = token.slice(4).split(".");
    const swapped = `sfp_${btoa(atob(body.replace(/-/g, "+").replace(/_/g, "/")).replace("tsk_x", "tsk_y")).replace(/=+$/, "")}.${sig}`;
    expect(await verifyToken(KEY, swapped)).toBeNull();
  });

  it("does not carry a token remembered under one signing key over to another", async () => {
    const token = await signToken(KEY, { k: "rnr", id: "rnr_a", p: "prj_a", pool: "default" });
    expect(await verifyToken(KEY, token)).not.toBeNull();
    expect(await verifyToken(OTHER, token)).toBeNull();
  });

  it("hands out claims no caller can change for the next one", async () => {
    const token = await signToken(KEY, { k: "job", t: "tsk_z", p: "prj_a", ep: 3 });
    const claims = await verifyToken(KEY, token);
    expect(Object.isFrozen(claims)).toBe(true);
  });
});

describe("remembered id tags", () => {
  it("answers a genuine id, then still refuses another tag on the same body, and the id under another key", async () => {
    const tag = await idTag(KEY, "task-id", "BODY0001");
    expect(await tagMatches(KEY, "task-id", "BODY0001", tag)).toBe(true);
    expect(await tagMatches(KEY, "task-id", "BODY0001", tag)).toBe(true);
    const wrong = tag.startsWith("0") ? `1${tag.slice(1)}` : `0${tag.slice(1)}`;
    expect(await tagMatches(KEY, "task-id", "BODY0001", wrong)).toBe(false);
    expect(await tagMatches(OTHER, "task-id", "BODY0001", tag)).toBe(false);
    expect(await tagMatches(KEY, "webhook-source-id", "BODY0001", tag)).toBe(false);
  });
});

describe("the memo's bound", () => {
  it("lets the oldest entry go once it holds its maximum, per secret", () => {
    const memo = new GenuineMemo<number>(2);
    memo.set("k", "a", 1);
    memo.set("k", "b", 2);
    memo.set("j", "a", 9);
    memo.set("k", "c", 3);
    expect([memo.get("k", "a"), memo.get("k", "b"), memo.get("k", "c"), memo.get("j", "a")]).toEqual([undefined, 2, 3, 9]);
  });
});
