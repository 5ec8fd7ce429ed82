import { describe, expect, it } from "vitest";
import { createMasker, MASK } from "./mask.ts";

const REFRESH = "5Aep861TSESvWeug_xvFHRBTTbf_YrTWgEyjBJr.KfPgRSH4dvh";
const ACCESS = "00D5g000004ABCD!AQ0AQH9x/k+q=tokenPart";

describe("masking secrets", () => {
  const masker = createMasker([REFRESH, ACCESS]);

  it("masks a refresh token in plain text", () => {
    expect(masker.mask(`refresh_token=${REFRESH}&x=1`)).toBe(`refresh_token=${MASK}&x=1`);
  });

  it("masks an access token in URL-encoded form", () => {
    const text = `GET /id/x?oauth_token=${encodeURIComponent(ACCESS)}`;
    expect(text).not.toContain(ACCESS);
    expect(masker.mask(text)).toBe(`GET /id/x?oauth_token=${MASK}`);
  });

  it("masks a token in form-encoded bodies", () => {
    const body = new URLSearchParams({ refresh_token: ACCESS }).toString();
    expect(masker.mask(body)).toBe(`refresh_token=${MASK}`);
  });

  it("masks a refresh token in base64, wherever it sits in a larger blob", () => {
    for (const prefix of ["", "a", "ab", "abc"]) {
      const blob = Buffer.from(`${prefix}token:${REFRESH}:end`).toString("base64");
      expect(masker.mask(blob)).toContain(MASK);
      expect(masker.mask(blob)).not.toContain(Buffer.from(REFRESH).toString("base64").slice(4, 40));
    }
  });

  it("masks a token inside JSON, including JSON within JSON", () => {
    const secret = 'p"ss\\word/with"quotes';
    const m = createMasker([secret]);
    const once = JSON.stringify({ secret });
    const twice = JSON.stringify({ body: once });
    expect(m.mask(once)).toBe(`{"secret":"${MASK}"}`);
    expect(m.mask(twice)).not.toContain("ss\\\\word");
    expect(m.mask(twice)).toContain(MASK);
  });

  it("masks every string of an event, keys included", () => {
    const event = { type: "log", lines: [`token ${ACCESS}`, "fine"], nested: { [REFRESH]: [REFRESH] } };
    expect(masker.maskDeep(event)).toEqual({ type: "log", lines: [`token ${MASK}`, "fine"], nested: { [MASK]: [MASK] } });
  });

  it("masks the longer secret whole when one secret contains another", () => {
    const m = createMasker(["abcd1234", "abcd1234efgh5678"]);
    expect(m.mask("x abcd1234efgh5678 y")).toBe(`x ${MASK} y`);
  });

  it("ignores empty and very short secrets rather than masking ordinary words", () => {
    const m = createMasker(["", "ab", undefined, null]);
    expect(m.mask("a tab and a cab")).toBe("a tab and a cab");
  });

  it("learns a secret added later (a refreshed access token) and forgets all on clear", () => {
    const m = createMasker();
    m.add("fresh-token-value-123");
    expect(m.mask("Bearer fresh-token-value-123")).toBe(`Bearer ${MASK}`);
    m.clear();
    expect(m.mask("Bearer fresh-token-value-123")).toBe("Bearer fresh-token-value-123");
  });
});
