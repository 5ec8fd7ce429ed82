// A finish must fit the API body limit, or the edge answers 413 and the job's work is lost (the task
// would be retried until it ended `lost`). The result is cut to the budget here: the biggest arrays
// keep their first items, the biggest strings are clipped, `…Base64` blobs are dropped whole, and the
// result says so (`truncated: true`, `truncation: {…}`). A finish the edge refuses anyway becomes a
// small `failed` finish with the code `result_too_large`.
import { MAX_API_BODY_BYTES, MAX_ERROR_MESSAGE_CHARS } from "../../protocol/limits.ts";
import { RESULT_TOO_LARGE, type FinishBody } from "../../protocol/runner.ts";

/** What one finish body may take: the API body limit, less room for its envelope. */
export const FINISH_BODY_BUDGET = MAX_API_BODY_BYTES - 1024;
/** Room kept for the `truncation` note itself while cutting. */
const NOTE_RESERVE_BYTES = 8 * 1024;
/** At most this many cuts are listed (and made) before the result is dropped whole. */
const MAX_CUTS = 64;
/** Strings shorter than this are never clipped: the note would cost more than it saves. */
const MIN_CLIP_BYTES = 256;

export type Cut = { path: string; kept: number; of: number; unit: "items" | "chars" } | { path: string; removed: true; bytes: number };

export interface Truncation {
  reason: typeof RESULT_TOO_LARGE;
  /** The result's size as JSON, and the budget it had to fit. */
  originalBytes: number;
  limitBytes: number;
  cut: Cut[];
  note: string;
}

const jsonBytes = (value: unknown) => Buffer.byteLength(JSON.stringify(value) ?? "");

/** The finish with its result cut to fit `budget` bytes as JSON; `truncation` says what was cut. */
export function fitFinish(body: FinishBody, budget = FINISH_BODY_BUDGET): { body: FinishBody; truncation?: Truncation } {
  const total = jsonBytes(body);
  if (total <= budget || body.result === undefined) return { body };
  const room = budget - (total - jsonBytes(body.result));
  const { result, truncation } = truncateResult(body.result, room);
  return { body: { ...body, result }, truncation };
}

/**
 * `result` (any JSON value) within `budget` bytes. An object gets `truncated: true` and `truncation`
 * beside its own fields; any other value is wrapped as `{truncated, truncation, value}`.
 */
export function truncateResult(result: unknown, budget: number): { result: unknown; truncation?: Truncation } {
  const originalBytes = jsonBytes(result);
  if (originalBytes <= budget) return { result };
  const root: Record<string, unknown> = isObject(result) ? structuredClone(result) : { value: structuredClone(result) };
  // Any array holding a node is bigger than it and so cut first: no cut ever lands inside a removed part.
  const cuts = new Map<string, Cut>();
  const target = budget - NOTE_RESERVE_BYTES;
  for (let size = jsonBytes(root); size > target && cuts.size < MAX_CUTS; size = jsonBytes(root)) {
    const biggest = largestCuttable(root);
    if (!biggest) break;
    cutNode(biggest, size - target, cuts);
  }
  const truncation: Truncation = {
    reason: RESULT_TOO_LARGE,
    originalBytes,
    limitBytes: budget,
    cut: [...cuts.values()],
    note:
      `the result was ${originalBytes} bytes as JSON, over the ${budget} bytes a finish leaves it (the API's ${MAX_API_BODY_BYTES}-byte body ` +
      "limit); the parts listed in `cut` were shortened and the whole result is not kept anywhere: narrow the request (fewer records, " +
      "members or tests) to get it whole",
  };
  const out = { ...root, truncated: true, truncation };
  if (jsonBytes(out) <= budget) return { result: out, truncation };
  // Nothing left to cut made it fit (thousands of small fields): keep only the note.
  const bare = { truncated: true, truncation: { ...truncation, cut: [{ path: "", removed: true, bytes: originalBytes }] satisfies Cut[] } };
  return { result: bare, truncation: bare.truncation };
}

interface Node {
  /** Where the node sits: its container and key, so that it can be replaced in place. */
  parent: Record<string, unknown> | unknown[];
  key: string | number;
  path: string;
  value: string | unknown[];
  bytes: number;
}

/** The largest array or long string anywhere in `root` (by its size as JSON). */
function largestCuttable(root: Record<string, unknown>): Node | undefined {
  let best: Node | undefined;
  const visit = (parent: Node["parent"], key: string | number, path: string, value: unknown): void => {
    if (typeof value === "string" || Array.isArray(value)) {
      const bytes = jsonBytes(value);
      const worth = Array.isArray(value) ? value.length > 0 : bytes >= MIN_CLIP_BYTES;
      if (worth && (!best || bytes > best.bytes)) best = { parent, key, path, value, bytes };
    }
    if (Array.isArray(value)) for (const [i, item] of value.entries()) visit(value, i, join(path, i), item);
    else if (isObject(value)) for (const [k, v] of Object.entries(value)) visit(value, k, join(path, k), v);
  };
  for (const [k, v] of Object.entries(root)) visit(root, k, k, v);
  return best;
}

/** Takes at least `excess` bytes out of `node` (or all of it), and records the cut once per path. */
function cutNode(node: Node, excess: number, cuts: Map<string, Cut>): void {
  const keepBytes = node.bytes - excess;
  const earlier = cuts.get(node.path);
  const of = earlier && "of" in earlier ? earlier.of : undefined;
  if (typeof node.value === "string") {
    const blob = typeof node.key === "string" && /base64$/i.test(node.key);
    if (blob || keepBytes < MIN_CLIP_BYTES) {
      replace(node, undefined);
      cuts.set(node.path, { path: node.path, removed: true, bytes: node.bytes });
      return;
    }
    const text = node.value;
    const keep = Math.max(0, Math.floor((text.length * keepBytes) / node.bytes) - 1);
    replace(node, `${text.slice(0, keep)}…`);
    cuts.set(node.path, { path: node.path, kept: keep, of: of ?? text.length, unit: "chars" });
    return;
  }
  const items = node.value;
  let kept = 0;
  for (let used = 2; kept < items.length; kept++) {
    used += jsonBytes(items[kept]) + 1;
    if (used > keepBytes) break;
  }
  cuts.set(node.path, { path: node.path, kept, of: of ?? items.length, unit: "items" });
  items.length = kept;
}

function replace(node: Node, value: unknown): void {
  if (Array.isArray(node.parent)) node.parent[Number(node.key)] = value ?? null;
  else if (value === undefined) delete node.parent[node.key];
  else node.parent[node.key] = value;
}

function join(path: string, key: string | number): string {
  return path ? `${path}.${key}` : String(key);
}

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

/**
 * The small finish sent when the edge refused one as too large (413): `failed`, code
 * `result_too_large`, with what the job had reported; a canceled job stays `canceled`, without result.
 */
export function tooLargeFinish(refused: FinishBody, bytes: number): FinishBody {
  const what = `the job's finish (${bytes} bytes) was refused by the edge as too large`;
  if (refused.outcome === "canceled") return { leaseEpoch: refused.leaseEpoch, outcome: "canceled" };
  const ended = refused.error ? `it ${refused.outcome} with ${refused.error.code}: ${refused.error.message}` : `it ${refused.outcome}`;
  const message = `${what}; ${ended}`;
  return {
    leaseEpoch: refused.leaseEpoch,
    outcome: "failed",
    error: { code: RESULT_TOO_LARGE, message: message.length > MAX_ERROR_MESSAGE_CHARS ? `${message.slice(0, MAX_ERROR_MESSAGE_CHARS - 1)}…` : message },
  };
}
