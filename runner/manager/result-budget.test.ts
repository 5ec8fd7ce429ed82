// Cutting results and event batches to the API body limit, as pure functions.
import { describe, expect, it } from "vitest";
import type { RunnerEvent } from "../../protocol/runner.ts";
import { eventBytes, splitToFit, takeBatch } from "./job-events.ts";
import { fitFinish, tooLargeFinish, truncateResult } from "./result-budget.ts";

const bytes = (v: unknown) => Buffer.byteLength(JSON.stringify(v));

describe("truncateResult", () => {
  it("leaves a result within the budget untouched", () => {
    const result = { a: [1, 2, 3] };
    expect(truncateResult(result, 1_000)).toEqual({ result });
  });

  it("clips the biggest string, wraps a result that is not an object, and stays within the budget", () => {
    const { result, truncation } = truncateResult("z".repeat(100_000), 20_000);
    expect(bytes(result)).toBeLessThanOrEqual(20_000);
    expect(result).toMatchObject({ truncated: true, value: expect.stringMatching(/^z+…$/) });
    expect(truncation?.cut).toEqual([{ path: "value", kept: expect.any(Number), of: 100_000, unit: "chars" }]);
  });

  it("cuts the biggest part first, keeps the rest, says how much it kept, and leaves the input alone", () => {
    const input = {
      summary: "ok",
      tests: Array.from({ length: 2_000 }, (_, i) => ({ name: `t${i}`, stackTrace: "s".repeat(500) })),
      small: [1, 2, 3],
    };
    const { result, truncation } = truncateResult(input, 200_000);
    expect(bytes(result)).toBeLessThanOrEqual(200_000);
    const out = result as typeof input & { truncated: boolean };
    expect(out.summary).toBe("ok");
    expect(out.small).toEqual([1, 2, 3]);
    expect(out.tests.length).toBeGreaterThan(100);
    expect(out.tests[0]).toEqual(input.tests[0]);
    expect(truncation?.cut).toEqual([{ path: "tests", kept: out.tests.length, of: 2_000, unit: "items" }]);
    // The input is not changed.
    expect(input.tests).toHaveLength(2_000);
  });

  it("keeps only the note when nothing it can cut makes the result fit", () => {
    const wide = Object.fromEntries(Array.from({ length: 5_000 }, (_, i) => [`field${i}`, i]));
    const { result } = truncateResult(wide, 10_000);
    expect(bytes(result)).toBeLessThanOrEqual(10_000);
    expect(result).toMatchObject({ truncated: true, truncation: { reason: "result_too_large", cut: [{ path: "", removed: true }] } });
  });
});

describe("fitFinish and tooLargeFinish", () => {
  it("fits the whole finish body, outcome and error included", () => {
    const body = {
      leaseEpoch: 1,
      outcome: "failed" as const,
      error: { code: "tests_failed", message: "m".repeat(5_000) },
      result: { rows: Array(20_000).fill("r") },
    };
    const { body: fitted, truncation } = fitFinish(body, 50_000);
    expect(bytes(fitted)).toBeLessThanOrEqual(50_000);
    expect(fitted.error).toEqual(body.error);
    expect(truncation?.limitBytes).toBeLessThan(50_000);
  });

  it("turns a refused finish into a small failed one, and a refused cancel into a cancel without result", () => {
    expect(tooLargeFinish({ leaseEpoch: 2, outcome: "succeeded", result: {} }, 2_000_000)).toEqual({
      leaseEpoch: 2,
      outcome: "failed",
      error: { code: "result_too_large", message: "the job's finish (2000000 bytes) was refused by the edge as too large; it succeeded" },
    });
    expect(tooLargeFinish({ leaseEpoch: 2, outcome: "canceled", result: {} }, 2_000_000)).toEqual({ leaseEpoch: 2, outcome: "canceled" });
  });
});

describe("event batches", () => {
  const log = (seq: number, lines: number, chars: number): RunnerEvent => ({ seq, type: "log", lines: Array(lines).fill("q".repeat(chars)) });

  it("splits a log event over the budget into pieces within it, keeping every line in order", () => {
    const event: RunnerEvent = { seq: 1, type: "log", lines: Array.from({ length: 300 }, (_, i) => `${i} ${"w".repeat(100)}`) };
    const pieces = splitToFit(event, 5_000);
    expect(pieces.length).toBeGreaterThan(1);
    for (const p of pieces) expect(eventBytes(p)).toBeLessThanOrEqual(5_000);
    expect(pieces.flatMap((p) => (p.type === "log" ? p.lines : []))).toEqual(event.type === "log" ? event.lines : []);
  });

  it("clips a single line that alone is over the budget", () => {
    const [piece] = splitToFit(log(1, 1, 20_000), 4_096);
    expect(eventBytes(piece)).toBeLessThanOrEqual(4_096);
    expect(piece.type === "log" && piece.lines[0].endsWith("…")).toBe(true);
  });

  it("takes the longest prefix within the budget and the count, and at least one event", () => {
    const pending = Array.from({ length: 10 }, (_, i) => log(i + 1, 1, 1_000));
    expect(takeBatch(pending, 3_500).map((e) => e.seq)).toEqual([1, 2, 3]);
    expect(takeBatch(pending, 10).map((e) => e.seq)).toEqual([1]);
    expect(takeBatch(pending, 1_000_000, 4)).toHaveLength(4);
  });
});
