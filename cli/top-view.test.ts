import { describe, expect, it } from "vitest";
import type { TaskSummary } from "../protocol/index.ts";
import { TopView } from "./top-view.ts";

const task = (id: string, status: TaskSummary["status"], version: number, percent?: number): TaskSummary => ({
  id,
  project: "prj_1",
  type: "deploy",
  org: "uat",
  priority: "normal",
  pool: "default",
  labels: [],
  status,
  attempt: 1,
  maxAttempts: 3,
  timeoutSeconds: 600,
  version,
  createdAt: "2026-01-01T00:00:00.000Z",
  updatedAt: "2026-01-01T00:00:00.000Z",
  source: { kind: "api", tokenId: "tok_1" },
  ...(percent !== undefined ? { progress: { percent } } : {}),
});

describe("top's view", () => {
  it("follows the feed: newer summaries replace older ones, finished tasks leave, runners carry their jobs' load", () => {
    const view = new TopView();
    view.load([task("tsk_a", "queued", 1)], []);
    expect(view.apply({ type: "task", seq: 5, task: task("tsk_a", "running", 3, 40) })).toBe(true);
    // A late, older summary changes nothing.
    expect(view.apply({ type: "task", seq: 6, task: task("tsk_a", "queued", 2) })).toBe(false);
    view.apply({
      type: "runner",
      seq: 7,
      runner: {
        id: "rnr_1",
        name: "box",
        pool: "default",
        status: "busy",
        at: "2026-01-01T00:00:01.000Z",
        cpuPercent: 97.5,
        memoryRssBytes: 300 * 1024 * 1024,
        slots: 2,
        freeSlots: 1,
        jobs: [{ taskId: "tsk_a", cpuPercent: 95, memoryRssBytes: 200 * 1024 * 1024 }],
      },
    });
    const screen = view.render("prj_1", new Date("2026-01-01T00:00:02Z")).join("\n");
    expect(view.lastSeq).toBe(7);
    expect(screen).toMatch(/box\s+default\s+busy\s+1\/2\s+97\.5%\s+300MiB/);
    expect(screen).toMatch(/tsk_a\s+deploy\s+uat\s+running\s+40%\s+95\.0%\s+200MiB\s+box/);
    view.apply({ type: "task", seq: 8, task: task("tsk_a", "succeeded", 5) });
    expect(view.render("prj_1", new Date()).join("\n")).not.toContain("tsk_a");
  });

  it("asks for a new list on reset and takes the feed's seq from it", () => {
    const view = new TopView();
    view.apply({ type: "hello", project: "prj_1", version: 0, lastSeq: 10 });
    expect(view.lastSeq).toBe(10);
    view.apply({ type: "reset", lastSeq: 2000 });
    expect(view.needsList).toBe(true);
    expect(view.lastSeq).toBe(2000);
    view.load([], null);
    expect(view.needsList).toBe(false);
  });
});
