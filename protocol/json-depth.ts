// How deep a JSON value may nest where it crosses our boundaries (task payloads, rule templates):
// Durable Object RPC's structured clone, JSON.stringify and the runners all recurse, so a hostile
// value nested thousands deep must be a 400 at the door, never a RangeError (500) later.

/** Deepest nesting a task payload may have. */
export const MAX_PAYLOAD_DEPTH = 64;

/** Whether `value` nests deeper than `limit`, found without recursion (a body may nest 500k deep). */
export function nestsDeeperThan(value: unknown, limit: number): boolean {
  const stack: [unknown, number][] = [[value, 0]];
  for (let top = stack.pop(); top; top = stack.pop()) {
    const [node, depth] = top;
    if (typeof node !== "object" || node === null) continue;
    if (depth >= limit) return true;
    for (const child of Array.isArray(node) ? node : Object.values(node)) stack.push([child, depth + 1]);
  }
  return false;
}
