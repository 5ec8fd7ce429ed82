// Masks every secret a process holds before any text leaves it: log lines, events, results, errors,
// relayed output. A secret can surface encoded (mask-forms.ts lists the forms) and split by line
// breaks (a wrapped base64 blob, a token broken over two lines): matching skips over line breaks,
// and a masked span keeps its line breaks so that lines stay lines. Longer secrets are tried first,
// so that a secret containing another is never half-masked.
import { secretPattern } from "./mask-forms.ts";

export const MASK = "***";
/** Shorter secrets would turn ordinary words into *** (an empty client secret, say): not masked. */
export const MIN_SECRET_LENGTH = 4;

const LINE_BREAK = /[\r\n]/;

export interface Masker {
  /** Adds secrets (for example a fresh access token after a refresh). */
  add(...secrets: Array<string | undefined | null>): void;
  mask(text: string): string;
  /** A copy of a JSON-like value with every string masked. */
  maskDeep<T>(value: T): T;
  /** Where secrets are in `text`: [start, end) ranges, which may span line breaks. */
  find(text: string): Array<[number, number]>;
  /** The most characters (line breaks aside) one masked form spans: how far a stream must look ahead. */
  readonly reach: number;
  /** Forgets every secret (at the end of a job). */
  clear(): void;
}

export function createMasker(initial: Array<string | undefined | null> = []): Masker {
  const secrets = new Set<string>();
  let pattern: RegExp | null = null;
  let reach = 0;

  const rebuild = () => {
    const patterns = [...secrets].map(secretPattern).sort((a, b) => b.reach - a.reach);
    pattern = patterns.length ? new RegExp(patterns.map((p) => p.source).join("|"), "g") : null;
    reach = Math.max(0, ...patterns.map((p) => p.reach));
  };

  const find = (text: string): Array<[number, number]> => {
    if (!pattern || text.length === 0) return [];
    if (!LINE_BREAK.test(text)) return [...text.matchAll(pattern)].filter((m) => m[0].length > 0).map((m) => [m.index, m.index + m[0].length]);
    // Matched over the text without its line breaks, then mapped back: the i-th break sits after
    // (its index - i) kept characters, so a kept index k lies past every break with index - i <= k.
    const before = [...text.matchAll(/[\r\n]/g)].map((m, i) => m.index - i);
    const original = (k: number) => k + upperBound(before, k);
    const kept = text.replace(/[\r\n]/g, "");
    return [...kept.matchAll(pattern)].filter((m) => m[0].length > 0).map((m) => [original(m.index), original(m.index + m[0].length - 1) + 1]);
  };

  const masker: Masker = {
    add(...added) {
      let changed = false;
      for (const s of added) {
        if (typeof s !== "string" || s.replace(/[\r\n]/g, "").length < MIN_SECRET_LENGTH || secrets.has(s)) continue;
        secrets.add(s);
        changed = true;
      }
      if (changed) rebuild();
    },
    mask(text) {
      return maskRanges(text, find(text));
    },
    maskDeep<T>(value: T): T {
      return deepMap(value, (s) => masker.mask(s)) as T;
    },
    find,
    get reach() {
      return reach;
    },
    clear() {
      secrets.clear();
      pattern = null;
      reach = 0;
    },
  };
  masker.add(...initial);
  return masker;
}

/** How many values of the sorted `values` are <= k. */
function upperBound(values: number[], k: number): number {
  let lo = 0;
  let hi = values.length;
  while (lo < hi) {
    const mid = (lo + hi) >> 1;
    if (values[mid] <= k) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

/** Replaces each range with MASK, keeping the line breaks inside it (one MASK per line it covers). */
export function maskRanges(text: string, ranges: Array<[number, number]>): string {
  if (ranges.length === 0) return text;
  const sorted = [...ranges].sort((a, b) => a[0] - b[0]);
  let out = "";
  let pos = 0;
  for (const [start, end] of sorted) {
    if (end <= pos) continue;
    const from = Math.max(start, pos);
    out += text.slice(pos, from);
    out += text.slice(from, end).replace(/[^\r\n]+/g, MASK);
    pos = end;
  }
  return out + text.slice(pos);
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
