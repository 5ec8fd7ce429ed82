import { describe, expect, it } from "vitest";
import { finish, jobEvents, jobHeartbeat, readTask, running } from "./runner-helpers.ts";

describe("a job's happy path", () => {
  it("runs a task from accept through events to a successful finish", async () => {
    const { owner, task, lease } = await running();
    expect(lease.leaseEpoch).toBe(1);
    expect(lease.task.status).toBe("running");
    expect((await jobHeartbeat(lease)).body).toMatchObject({ cancelRequested: false });
    const ev = await jobEvents(lease, [
      { seq: 1, type: "log", lines: ["hello"] },
      { seq: 2, type: "progress", percent: 50 },
    ]);
    expect(ev.body).toEqual({ ackedSeq: 2 });
    const done = await finish(lease, { outcome: "succeeded", result: { ok: 1 } });
    expect(done.status).toBe(200);
    const read = await readTask(owner, task.id);
    expect(read.status).toBe("succeeded");
    expect(read.result).toEqual({ ok: 1 });
    expect(read.progress).toEqual({ percent: 50 });
  });
});
