import { afterEach, describe, expect, it, vi } from "vitest";
import type { WorkerEvent } from "../ipc.ts";
import { createMasker, MASK } from "../mask.ts";
import { createJobOutput, LOG_HOLD_MS, MAX_ERROR_MESSAGE, MAX_LINE } from "./job-output.ts";

const SECRET = "5Aep861TSESvWeug_xvFHRBTTbf_YrTWgEyjBJrKfPgRSH4dvhLoFTj5n9V8PY";
const PREFIX = SECRET.slice(0, 6);

function output() {
  const events: WorkerEvent[] = [];
  const out = createJobOutput(createMasker([SECRET]), (e) => events.push(e));
  const lines = () => events.flatMap((e) => (e.type === "log" ? e.lines : []));
  return { out, events, lines };
}

afterEach(() => {
  vi.useRealTimers();
});

describe("a job's output", () => {
  it("masks a log line before clipping it: a secret straddling the clip leaves no prefix", () => {
    const { out, lines } = output();
    const line = `${"x".repeat(MAX_LINE - 20)}${SECRET} and more`;
    out.log(line);
    out.flush();
    expect(lines()).toHaveLength(1);
    expect(lines()[0].length).toBeLessThanOrEqual(MAX_LINE);
    expect(lines()[0]).not.toContain(PREFIX);
    expect(lines()[0].slice(MAX_LINE - 20)).toMatch(/^\*\*\*/);
  });

  it("masks progress and the error message before clipping them", () => {
    const { out, events } = output();
    out.progress({ step: `${"s".repeat(195)}${SECRET}`, message: `${"m".repeat(1990)}${SECRET}` });
    const progress = events.find((e) => e.type === "progress");
    expect(JSON.stringify(progress)).not.toContain(PREFIX);
    const message = out.errorMessage(`${"e".repeat(MAX_ERROR_MESSAGE - 5)}${SECRET}`);
    expect(message.length).toBeLessThanOrEqual(MAX_ERROR_MESSAGE);
    expect(message).not.toContain(PREFIX);
  });

  it("masks a secret split over two log lines, in one call or in two", () => {
    const half = SECRET.length / 2;
    const one = output();
    one.out.log(`token ${SECRET.slice(0, half)}`, `${SECRET.slice(half)} end`);
    one.out.flush();
    expect(one.lines()).toEqual([`token ${MASK}`, `${MASK} end`]);

    const two = output();
    two.out.log(`token ${SECRET.slice(0, half)}`);
    // Nothing has gone out that a later line could turn into a secret's beginning.
    expect(two.lines().join("\n")).not.toContain(PREFIX);
    two.out.log(`${SECRET.slice(half)} end`);
    two.out.flush();
    expect(two.lines()).toEqual([`token ${MASK}`, `${MASK} end`]);
  });

  it("sends held lines after a short idle, and before a progress event (events keep their order)", () => {
    vi.useFakeTimers();
    const { out, events, lines } = output();
    out.log("first");
    expect(lines()).toEqual([]);
    vi.advanceTimersByTime(LOG_HOLD_MS);
    expect(lines()).toEqual(["first"]);
    out.log("second");
    out.progress({ percent: 50 });
    expect(events.map((e) => e.type)).toEqual(["log", "log", "progress"]);
    expect(lines()).toEqual(["first", "second"]);
  });
});
