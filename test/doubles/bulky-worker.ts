// A worker (runner/ipc.ts) whose output is as big as its task's `payload.bulky` says: log bursts of
// long lines, results of many wide rows or with a large base64 zip. It tests how the manager keeps
// finishes and event batches within the edge's body limit.
import type { ManagerToWorker, WorkerToManager } from "../../runner/ipc.ts";

export interface BulkyBehaviour {
  /** Log events sent at once, each of `lines` lines of `chars` characters ("L<event>.<line> xxx…"). */
  logs?: { events: number; lines: number; chars: number };
  /** A query-like result: `records` rows, each with a `Body` of `chars` characters. */
  records?: { count: number; chars: number };
  /** A retrieve-like result: a `zipBase64` of this many bytes (and a file list). */
  zipBytes?: number;
  outcome?: "succeeded" | "failed";
}

if (!process.send) {
  console.error("bulky-worker: must be forked with an IPC channel");
  process.exit(1);
}

function send(msg: WorkerToManager): Promise<void> {
  return new Promise((resolve) => process.send?.(msg, undefined, {}, () => resolve()));
}

function bulkyLine(event: number, line: number, chars: number): string {
  const head = `L${event}.${line} `;
  return head + "x".repeat(Math.max(0, chars - head.length));
}

process.on("message", (raw: ManagerToWorker) => {
  if (raw.type === "start") void run((raw.task.payload.bulky ?? {}) as BulkyBehaviour);
});

async function run(b: BulkyBehaviour): Promise<void> {
  const sends: Promise<void>[] = [];
  for (let e = 1; e <= (b.logs?.events ?? 0); e++) {
    const { lines, chars } = b.logs ?? { lines: 0, chars: 0 };
    sends.push(send({ type: "event", event: { type: "log", lines: Array.from({ length: lines }, (_, l) => bulkyLine(e, l + 1, chars)) } }));
  }
  await Promise.all(sends);
  const result: Record<string, unknown> = { ok: true };
  if (b.records) {
    const { count, chars } = b.records;
    result.totalSize = count;
    result.records = Array.from({ length: count }, (_, i) => ({ Id: `a00${String(i).padStart(12, "0")}`, Body: "y".repeat(chars) }));
  }
  if (b.zipBytes) {
    result.files = [{ type: "ApexClass", fullName: "Big", fileName: "classes/Big.cls" }];
    result.zipBytes = b.zipBytes;
    result.zipBase64 = Buffer.alloc(b.zipBytes, 7).toString("base64");
  }
  const outcome = b.outcome ?? "succeeded";
  await send({ type: "done", outcome, result, ...(outcome === "failed" ? { error: { code: "tests_failed", message: "many tests failed" } } : {}) });
  process.exit(0);
}

await send({ type: "ready" });
