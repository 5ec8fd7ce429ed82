// Over-size output against the edge double, which refuses any body over its limit (1 MiB, the
// contract's) with 413 `too_large`: results are cut to fit and say so, a finish refused anyway ends
// the task `failed` with `result_too_large` (not `lost` after every attempt), and log bursts bigger
// than one body reach the edge whole, in order.
import { resolve } from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { MAX_API_BODY_BYTES } from "../../protocol/limits.ts";
import type { RunnerEvent } from "../../protocol/runner.ts";
import type { BulkyBehaviour } from "../../test/doubles/bulky-worker.ts";
import { EdgeRunnerApiDouble } from "../../test/doubles/edge-runner-api.ts";
import { startTestManager, stopTestManager, type TestManager } from "./testing.ts";

const BULKY_WORKER = resolve(import.meta.dirname, "..", "..", "test", "doubles", "bulky-worker.ts");

let edge: EdgeRunnerApiDouble;
let manager: TestManager | undefined;

beforeEach(async () => {
  edge = await EdgeRunnerApiDouble.start({ leaseSeconds: 10, heartbeatSeconds: 1, pollWaitSeconds: 1 });
});

afterEach(async () => {
  await stopTestManager(manager, edge);
  manager = undefined;
});

function run(bulky: BulkyBehaviour): string {
  manager ??= startTestManager(edge, { workerEntry: BULKY_WORKER });
  return edge.enqueueTask({ payload: { bulky } });
}

const finished = (taskId: string) => () => edge.task(taskId).finish;
const finishCalls = (taskId: string) => edge.callsTo("POST", new RegExp(`/v1/jobs/${taskId}/finish$`));
const eventCalls = (taskId: string) => edge.callsTo("POST", new RegExp(`/v1/jobs/${taskId}/events$`));
const bodyBytes = (body: unknown) => Buffer.byteLength(JSON.stringify(body));

/** The lines the bulky worker sends, in order. */
function expectedLines(events: number, lines: number, chars: number): string[] {
  const out: string[] = [];
  for (let e = 1; e <= events; e++) {
    for (let l = 1; l <= lines; l++) {
      const head = `L${e}.${l} `;
      out.push(head + "x".repeat(chars - head.length));
    }
  }
  return out;
}

/** The log lines the edge stored for the task, in seq order. */
function storedLines(taskId: string): string[] {
  const events: RunnerEvent[] = [...edge.task(taskId).events.values()].sort((a, b) => a.seq - b.seq);
  return events.flatMap((e) => (e.type === "log" ? e.lines : []));
}

describe("a result over the API body limit", () => {
  it("is cut to fit and marked truncated, saying what was cut; the task succeeds on its first attempt", async () => {
    const taskId = run({ records: { count: 3_000, chars: 1_000 } });
    const finish = await edge.waitFor(finished(taskId), 30_000, "finish");
    expect(finish.body.outcome).toBe("succeeded");
    const result = finish.body.result as {
      truncated: boolean;
      totalSize: number;
      records: unknown[];
      truncation: { reason: string; cut: unknown[]; note: string };
    };
    expect(result.truncated).toBe(true);
    expect(result.totalSize).toBe(3_000);
    expect(result.truncation.reason).toBe("result_too_large");
    expect(result.truncation.cut).toEqual([{ path: "records", kept: result.records.length, of: 3_000, unit: "items" }]);
    expect(result.records.length).toBeGreaterThan(500);
    expect(result.truncation.note).toMatch(/not kept anywhere/);
    // One finish, taken at once, and within the limit.
    expect(finishCalls(taskId).map((c) => c.status)).toEqual([200]);
    expect(bodyBytes(finishCalls(taskId)[0].body)).toBeLessThanOrEqual(MAX_API_BODY_BYTES);
    expect(edge.task(taskId).task.attempt).toBe(1);
    expect(manager?.logged("the job's result is over the finish budget; sending it truncated")[0]).toMatchObject({ taskId, cut: ["records"] });
  });

  it("drops a retrieve's zipBase64 whole (half a zip is no zip), keeping its size and file list", async () => {
    const taskId = run({ zipBytes: 900 * 1024 });
    const finish = await edge.waitFor(finished(taskId), 30_000, "finish");
    expect(finish.body.outcome).toBe("succeeded");
    const result = finish.body.result as Record<string, unknown>;
    expect(result.zipBase64).toBeUndefined();
    expect(result).toMatchObject({ zipBytes: 900 * 1024, files: [{ fileName: "classes/Big.cls" }], truncated: true });
    expect((result.truncation as { cut: unknown[] }).cut).toEqual([{ path: "zipBase64", removed: true, bytes: expect.any(Number) }]);
  });

  it("finishes failed with result_too_large when the edge refuses the finish anyway (a lower limit in front of it)", async () => {
    edge.maxBodyBytes = 64 * 1024;
    const taskId = run({ records: { count: 200, chars: 1_000 }, outcome: "failed" });
    const finish = await edge.waitFor(finished(taskId), 30_000, "finish");
    expect(finishCalls(taskId).map((c) => c.status)).toEqual([413, 200]);
    expect(finish.body).toMatchObject({ outcome: "failed", error: { code: "result_too_large" } });
    expect(finish.body.result).toBeUndefined();
    expect(finish.body.error?.message).toMatch(/refused by the edge as too large; it failed with tests_failed: many tests failed/);
    expect(edge.task(taskId).status).toBe("failed");
    expect(edge.task(taskId).task.attempt).toBe(1);
    const ended = await edge.waitFor(() => manager?.logged("job ended")[0], 10_000, "job ended");
    expect(ended).toMatchObject({ outcome: "failed" });
  });
});

describe("log bursts bigger than one body", () => {
  it("reach the edge whole and in order, in batches within the limit, even a single event over it", async () => {
    // 3 events of 1,000 lines of 1,500 characters: each event alone is ~1.5 MB.
    const taskId = run({ logs: { events: 3, lines: 1_000, chars: 1_500 } });
    await edge.waitFor(finished(taskId), 60_000, "finish");
    expect(storedLines(taskId)).toEqual(expectedLines(3, 1_000, 1_500));
    const posts = eventCalls(taskId);
    expect(posts.every((c) => c.status === 200)).toBe(true);
    for (const post of posts) expect(bodyBytes(post.body)).toBeLessThanOrEqual(MAX_API_BODY_BYTES);
    const seqs = [...edge.task(taskId).events.keys()].sort((a, b) => a - b);
    expect(seqs).toEqual(seqs.map((_, i) => i + 1));
  });

  it("send smaller batches when the edge's limit is below the runner's budget, and lose no line", async () => {
    edge.maxBodyBytes = 100 * 1024;
    const taskId = run({ logs: { events: 6, lines: 200, chars: 1_000 } });
    await edge.waitFor(finished(taskId), 60_000, "finish");
    expect(eventCalls(taskId).some((c) => c.status === 413)).toBe(true);
    expect(storedLines(taskId)).toEqual(expectedLines(6, 200, 1_000));
    const seqs = [...edge.task(taskId).events.keys()].sort((a, b) => a - b);
    expect(seqs).toEqual(seqs.map((_, i) => i + 1));
    expect(manager?.logged("the edge refused an events batch as too large; sending smaller ones").length).toBeGreaterThan(0);
  });
});
