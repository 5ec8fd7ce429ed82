import { describe, expect, it } from "vitest";
import { createLineMasker } from "./mask-lines.ts";
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

  it("masks percent-encoding in lower case and mixed case", () => {
    const lower = encodeURIComponent(ACCESS).replace(/%[0-9A-F]{2}/g, (e) => e.toLowerCase());
    expect(lower).toContain("%2f");
    expect(masker.mask(`token=${lower}&x=1`)).toBe(`token=${MASK}&x=1`);
    const mixed = encodeURIComponent(ACCESS).replace("%2F", "%2f");
    expect(masker.mask(mixed)).toBe(MASK);
  });

  it("masks double URL-encoding", () => {
    const twice = encodeURIComponent(encodeURIComponent(ACCESS));
    expect(twice).toContain("%252F");
    expect(masker.mask(`next=${twice}`)).toBe(`next=${MASK}`);
  });

  it("masks \\uXXXX JSON escapes and escaped slashes, once and inside JSON", () => {
    const unicode = ACCESS.replace(/[^A-Za-z0-9]/g, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, "0")}`);
    expect(unicode).toContain("\\u002f");
    expect(masker.mask(`{"t":"${unicode}"}`)).toBe(`{"t":"${MASK}"}`);
    const upper = unicode.replace(/\\u00([0-9a-f]{2})/g, (_, h: string) => `\\u00${h.toUpperCase()}`);
    expect(upper).toContain("\\u002F");
    expect(masker.mask(`{"t":"${upper}"}`)).toBe(`{"t":"${MASK}"}`);
    const slashes = ACCESS.replace(/\//g, "\\/");
    expect(masker.mask(`{"t":"${slashes}"}`)).toBe(`{"t":"${MASK}"}`);
    // That JSON text as a string inside another JSON document: every backslash doubled.
    const nested = JSON.stringify({ body: `{"t":"${unicode}"}` });
    expect(nested).toContain("\\\\u002f");
    expect(masker.mask(nested)).not.toContain("AQ0AQH9x");
  });

  it("masks hex, in either case", () => {
    const hex = Buffer.from(REFRESH).toString("hex");
    expect(masker.mask(`dump ${hex} end`)).toBe(`dump ${MASK} end`);
    expect(masker.mask(`dump ${hex.toUpperCase()} end`)).toBe(`dump ${MASK} end`);
  });

  it("masks line-wrapped base64 and keeps the lines", () => {
    const blob = Buffer.from(`header:${REFRESH}:trailer-${"x".repeat(40)}`).toString("base64");
    const wrapped = blob.match(/.{1,16}/g)?.join("\r\n") ?? "";
    const masked = masker.mask(wrapped);
    expect(masked.split("\r\n")).toHaveLength(wrapped.split("\r\n").length);
    for (const line of masked.split("\r\n")) expect(REFRESH_B64_PIECES.some((p) => line.includes(p))).toBe(false);
    expect(masked).toContain(MASK);
  });

  it("masks a secret split over two lines of one string, keeping both lines", () => {
    const half = Math.floor(REFRESH.length / 2);
    const text = `token: ${REFRESH.slice(0, half)}\n${REFRESH.slice(half)} (continued)`;
    expect(masker.mask(text)).toBe(`token: ${MASK}\n${MASK} (continued)`);
  });

  it("masks across lines of a stream: a line is held until no secret starting in it can still be completed", () => {
    const lines = createLineMasker(masker);
    const half = Math.floor(REFRESH.length / 2);
    const out = [...lines.push(["first line", `token: ${REFRESH.slice(0, half)}`]), ...lines.push([REFRESH.slice(half)])];
    // Nothing that ends in a secret's beginning has gone out yet.
    expect(out.join("\n")).not.toContain(REFRESH.slice(0, 8));
    const rest = lines.push(["x".repeat(masker.reach)]);
    const all = [...out, ...rest, ...lines.flush()];
    expect(all).toEqual(["first line", `token: ${MASK}`, MASK, "x".repeat(masker.reach)]);
    expect(lines.held).toBe(0);
  });

  it("releases lines at once when there is no secret to wait for", () => {
    const lines = createLineMasker(createMasker());
    expect(lines.push(["a", "b"])).toEqual(["a", "b"]);
  });
});

/** Pieces of the refresh token's base64 that must not survive masking in any alignment. */
const REFRESH_B64_PIECES = [0, 1, 2].map((shift) =>
  Buffer.from(`${"a".repeat(shift)}${REFRESH}`)
    .toString("base64")
    .slice(8, 20),
);
