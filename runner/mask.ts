// Masks every secret the worker holds before any text leaves it: log lines, events, results, errors.
// A secret can surface encoded (in a URL, a form body, a JSON string, a base64 blob), so each is
// masked in all of those forms, longest first so that a longer form is never half-masked.

export const MASK = "***";
/** Shorter secrets would turn ordinary words into *** (an empty client secret, say): not masked. */
export const MIN_SECRET_LENGTH = 4;
/** A base64 core shorter than this matches too much unrelated text. */
const MIN_BASE64_CORE = 8;

export interface Masker {
  /** Adds secrets (for example a fresh access token after a refresh). */
  add(...secrets: Array<string | undefined | null>): void;
  mask(text: string): string;
  /** A copy of a JSON-like value with every string masked. */
  maskDeep<T>(value: T): T;
  /** Forgets every secret (at the end of a job). */
  clear(): void;
}

/**
 * The base64 text of `secret` wherever it sits in a longer blob: for each of the three byte
 * alignments, the characters that depend only on the secret's own bytes.
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
    if (core.length >= MIN_BASE64_CORE) {
      cores.push(core, core.replace(/\+/g, "-").replace(/\//g, "_"));
    }
  }
  return cores;
}

function formsOf(secret: string): string[] {
  const json = JSON.stringify(secret).slice(1, -1);
  const forms = [
    secret,
    encodeURIComponent(secret),
    encodeURI(secret),
    new URLSearchParams({ s: secret }).toString().slice(2),
    json,
    JSON.stringify(json).slice(1, -1),
    ...base64Cores(secret),
  ];
  return forms.filter((f) => f.length >= MIN_SECRET_LENGTH);
}

function escapeRegExp(s: string): string {
  return s.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");
}

export function createMasker(initial: Array<string | undefined | null> = []): Masker {
  const forms = new Set<string>();
  let pattern: RegExp | null = null;

  const rebuild = () => {
    const sorted = [...forms].sort((a, b) => b.length - a.length);
    pattern = sorted.length ? new RegExp(sorted.map(escapeRegExp).join("|"), "g") : null;
  };

  const masker: Masker = {
    add(...secrets) {
      let changed = false;
      for (const s of secrets) {
        if (typeof s !== "string" || s.length < MIN_SECRET_LENGTH) continue;
        for (const f of formsOf(s)) {
          if (!forms.has(f)) {
            forms.add(f);
            changed = true;
          }
        }
      }
      if (changed) rebuild();
    },
    mask(text) {
      return pattern ? text.replace(pattern, MASK) : text;
    },
    maskDeep<T>(value: T): T {
      return deepMap(value, (s) => masker.mask(s)) as T;
    },
    clear() {
      forms.clear();
      pattern = null;
    },
  };
  masker.add(...initial);
  return masker;
}

function deepMap(value: unknown, fn: (s: string) => string): unknown {
  if (typeof value === "string") return fn(value);
  if (Array.isArray(value)) return value.map((v) => deepMap(v, fn));
  if (value !== null && typeof value === "object") {
    const out: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(value)) out[fn(k)] = deepMap(v, fn);
    return out;
  }
  return value;
}
