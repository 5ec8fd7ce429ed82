// The manager's log lines: one JSON object each, never a token.
import { describe, expect, it } from "vitest";
import { createLogger } from "./log.ts";

function capture() {
  const lines: string[] = [];
  return { lines, log: createLogger({ level: "debug", write: (l) => lines.push(l) }) };
}

describe("the manager's logger", () => {
  it("writes one JSON object a line with time, level, msg and the child's fields", () => {
    const { lines, log } = capture();
    log.child({ taskId: "tsk_1" }).info("job started", { attempt: 1 });
    expect(lines).toHaveLength(1);
    expect(JSON.parse(lines[0])).toMatchObject({ level: "info", msg: "job started", taskId: "tsk_1", attempt: 1, time: expect.any(String) });
  });

  it("redacts fields named like a secret, at any depth", () => {
    const { lines, log } = capture();
    log.info("x", { jobToken: "abc", nested: { clientSecret: "def", password: "ghi", authorization: "Bearer j" }, key: "k" });
    const record = JSON.parse(lines[0]);
    expect(record.jobToken).toBe("[redacted]");
    expect(record.nested).toEqual({ clientSecret: "[redacted]", password: "[redacted]", authorization: "[redacted]" });
    expect(record.key).toBe("[redacted]");
  });

  it("masks a registered secret wherever it appears, also JSON-escaped, in parent and child loggers", () => {
    const { lines, log } = capture();
    const child = log.child({ taskId: "tsk_1" });
    child.addSecret('tok"en-123456');
    log.warn('failed with tok"en-123456 in the message', { error: new Error('bad tok"en-123456') });
    expect(lines[0]).not.toContain("en-123456");
    expect(JSON.parse(lines[0]).error).toEqual({ name: "Error", message: "bad ***" });
  });

  it("drops lines below its level", () => {
    const lines: string[] = [];
    const log = createLogger({ level: "warn", write: (l) => lines.push(l) });
    log.debug("no");
    log.info("no");
    log.warn("yes");
    expect(lines.map((l) => JSON.parse(l).msg)).toEqual(["yes"]);
  });
});
