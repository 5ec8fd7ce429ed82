// Mapping a verified delivery to tasks: which rules match (`on`, `if`) and what payload each renders.
// Everything here walks the rule (small, owner-written) and follows dot paths into the delivery; it
// never walks the delivery itself, so a hostile payload's size or depth costs nothing extra.
import { ApiError } from "../../protocol/errors.ts";
import { MAX_PAYLOAD_DEPTH, nestsDeeperThan } from "../../protocol/json-depth.ts";
import { MAX_PAYLOAD_BYTES } from "../../protocol/task.ts";
import type { WebhookRule } from "../../protocol/webhook.ts";

/** Follows `a.b.0.c` through objects and arrays (own properties only: no `__proto__` tricks). */
export function getPath(root: unknown, path: string): unknown {
  let at: unknown = root;
  for (const key of path.split(".")) {
    if (typeof at !== "object" || at === null) return undefined;
    if (Array.isArray(at)) {
      if (!/^\d+$/.test(key)) return undefined;
      at = at[Number(key)];
    } else {
      if (!Object.hasOwn(at, key)) return undefined;
      at = (at as Record<string, unknown>)[key];
    }
  }
  return at;
}

// A glob over a very long value could cost |pattern|·|value| steps; values past this are compared
// exactly only.
const MAX_GLOB_SUBJECT = 64 * 1024;

/** `*` matches any run of characters (including `/` and `.`); everything else matches itself. */
export function globMatch(pattern: string, text: string): boolean {
  if (!pattern.includes("*")) return pattern === text;
  if (text.length > MAX_GLOB_SUBJECT) return false;
  // Greedy match with backtracking to the last star only: linear-ish, no regex, no ReDoS.
  let p = 0;
  let t = 0;
  let star = -1;
  let mark = 0;
  while (t < text.length) {
    if (p < pattern.length && pattern[p] !== "*" && pattern[p] === text[t]) {
      p++;
      t++;
    } else if (p < pattern.length && pattern[p] === "*") {
      star = p++;
      mark = t;
    } else if (star >= 0) {
      p = star + 1;
      t = ++mark;
    } else {
      return false;
    }
  }
  while (p < pattern.length && pattern[p] === "*") p++;
  return p === pattern.length;
}

/** Payload values compared by `if`: scalars as text; objects and arrays never match. */
function scalarText(value: unknown): string | undefined {
  if (typeof value === "string") return value;
  if (typeof value === "number" || typeof value === "boolean") return String(value);
  if (value === null) return "null";
  return undefined;
}

/**
 * `on` matches the event name (`pull_request.opened`) or its family (`pull_request`); `*` globs.
 * Every `if` entry must hold: the value at the dot path, as text, equals or globs the given value.
 */
export function ruleMatches(rule: WebhookRule, event: string, payload: unknown): boolean {
  const dot = event.indexOf(".");
  const family = dot < 0 ? event : event.slice(0, dot);
  if (!globMatch(rule.on, event) && !globMatch(rule.on, family)) return false;
  for (const [path, want] of Object.entries(rule.if ?? {})) {
    const got = scalarText(getPath(payload, path));
    if (got === undefined || !globMatch(want, got)) return false;
  }
  return true;
}

const WHOLE = /^\{\{\s*([A-Za-z0-9_$.-]+)\s*\}\}$/;
const EMBEDDED = /\{\{\s*([A-Za-z0-9_$.-]+)\s*\}\}/g;

// A hostile delivery's nesting must be a 400, never a RangeError (500) in stringify or RPC later.
function jsonText(value: unknown): string {
  if (nestsDeeperThan(value, MAX_PAYLOAD_DEPTH)) throw tooDeep();
  return JSON.stringify(value);
}

function tooDeep(): ApiError {
  return new ApiError("invalid_request", `a rule's payload took a value from the delivery nested deeper than ${MAX_PAYLOAD_DEPTH} levels`);
}

/** A template that starts with a scheme (`https://…`) is a URL: the values put into it are encoded. */
const URL_TEMPLATE = /^[A-Za-z][A-Za-z0-9+.-]*:\/\//;

/**
 * Renders a rule's payload template. A string that is exactly `{{path}}` becomes the value there
 * (any JSON type; null when absent); `{{path}}` inside a longer string becomes its text ("" when absent),
 * URL-encoded (encodeURIComponent) when the string is a URL, so that a delivery's value stays within
 * its place: a `/`, `?`, `#`, `&` or `@` from a branch name cannot change the host, add path segments
 * or query parameters, or cut the rest of the URL off.
 */
export function renderPayload(template: Record<string, unknown>, delivery: unknown): Record<string, unknown> {
  const render = (node: unknown): unknown => {
    if (typeof node === "string") {
      const whole = WHOLE.exec(node);
      if (whole) return getPath(delivery, whole[1]) ?? null;
      // toWellFormed: a lone surrogate from a hostile delivery would make encodeURIComponent throw.
      const encode = URL_TEMPLATE.test(node) ? (text: string) => encodeURIComponent(text.toWellFormed()) : (text: string) => text;
      return node.replace(EMBEDDED, (_m, path: string) => {
        const value = getPath(delivery, path);
        if (value === undefined || value === null) return "";
        return encode(typeof value === "object" ? jsonText(value) : String(value));
      });
    }
    if (Array.isArray(node)) return node.map(render);
    if (typeof node === "object" && node !== null) {
      const out: Record<string, unknown> = {};
      for (const [k, v] of Object.entries(node)) out[k] = render(v);
      return out;
    }
    return node;
  };
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(template)) out[k] = render(v);
  // The rendered payload is stored with the task: refuse one that a delivery blew up past the limit.
  const size = new TextEncoder().encode(jsonText(out)).byteLength;
  if (size > MAX_PAYLOAD_BYTES) throw new ApiError("invalid_request", `a rule's rendered payload is larger than ${MAX_PAYLOAD_BYTES} bytes`);
  return out;
}
