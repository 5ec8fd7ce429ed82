// How a secret can look once some layer has encoded it, as regular expressions: raw; percent-encoded
// once or twice, in upper or lower case; JSON-escaped once or twice (short escapes like \" and \/, or
// \uXXXX in either case); any mix of those, character by character; and its bytes as hex or base64.
// Line breaks are not matched here: the masker matches over text with its line breaks taken out.

/** A base64 core shorter than this matches too much unrelated text. */
const MIN_BASE64_CORE = 8;

export interface SecretPattern {
  /** Regular-expression source matching every form of the secret. */
  source: string;
  /** The most characters one match can span (line breaks aside). */
  reach: number;
}

export function escapeRegExp(s: string): string {
  return s.replace(/[.*+?^${}()|[\]\\/]/g, "\\$&");
}

/** A hex number of `width` digits, letters in either case: 0x2f → "2[fF]". */
function hexAnyCase(n: number, width: number): string {
  return [...n.toString(16).padStart(width, "0")].map((d) => (/[a-f]/.test(d) ? `[${d}${d.toUpperCase()}]` : d)).join("");
}

/** The ways one character of a secret can be written, and the longest of them. */
function charForms(c: string): { source: string; reach: number } {
  if (/^[A-Za-z0-9]$/.test(c)) return { source: c, reach: 1 };
  const bytes = [...Buffer.from(c, "utf8")];
  const units = Array.from({ length: c.length }, (_, i) => c.charCodeAt(i));
  const json = JSON.stringify(c).slice(1, -1);
  const shortEscapes = new Set<string>();
  if (json !== c && !json.startsWith("\\u")) shortEscapes.add(json);
  if (c === "/") shortEscapes.add("\\/");
  const alternatives = new Set<string>([
    // Raw; a line break inside a secret is taken out like every other line break.
    /^[\r\n]$/.test(c) ? "" : escapeRegExp(c),
    // JSON once and JSON inside JSON.
    ...[...shortEscapes].flatMap((e) => [escapeRegExp(e), escapeRegExp(JSON.stringify(e).slice(1, -1))]),
    units.map((u) => `\\\\u${hexAnyCase(u, 4)}`).join(""),
    units.map((u) => `\\\\\\\\u${hexAnyCase(u, 4)}`).join(""),
    // Percent-encoded once and twice (%2F, %2f, %252F).
    bytes.map((b) => `%${hexAnyCase(b, 2)}`).join(""),
    bytes.map((b) => `%25${hexAnyCase(b, 2)}`).join(""),
  ]);
  if (c === " ") alternatives.add("\\+");
  const reach = Math.max(c.length, 5 * bytes.length, 7 * units.length, 4);
  return { source: `(?:${[...alternatives].join("|")})`, reach };
}

/**
 * The base64 text of `secret` wherever it sits in a longer blob: for each of the three byte
 * alignments, the characters that depend only on the secret's own bytes (standard and URL-safe).
 */
function base64Cores(secret: string): string[] {
  const bytes = Buffer.from(secret, "utf8");
  const cores: string[] = [];
  for (let shift = 0; shift < 3; shift++) {
    const padded = Buffer.concat([Buffer.alloc(shift), bytes]);
    const full = padded.toString("base64").replace(/=+$/, "");
    const start = Math.ceil((shift * 8) / 6);
    const end = Math.floor(((shift + bytes.length) * 8) / 6);
    const core = full.slice(start, end);
    if (core.length >= MIN_BASE64_CORE) cores.push(core, core.replace(/\+/g, "-").replace(/\//g, "_"));
  }
  return cores;
}

export function secretPattern(secret: string): SecretPattern {
  const chars = [...secret].map(charForms);
  const bytes = Buffer.from(secret, "utf8");
  const hex = [...bytes].map((b) => hexAnyCase(b, 2)).join("");
  const cores = base64Cores(secret);
  const source = [chars.map((f) => f.source).join(""), hex, ...cores.map(escapeRegExp)].join("|");
  const reach = Math.max(
    chars.reduce((n, f) => n + f.reach, 0),
    2 * bytes.length,
    ...cores.map((c) => c.length),
  );
  return { source, reach };
}
