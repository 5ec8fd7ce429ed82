import { describe, expect, it } from "vitest";
import type { TaskEvent } from "../../protocol/index.ts";
import { api } from "./helpers.ts";
import { jobEvents, running } from "./runner-helpers.ts";

async function taskLog(owner: string, taskId: string): Promise<string> {
  return (await api("GET", `/v1/tasks/${taskId}/logs`, { token: owner })).body;
}

async function taskEvents(owner: string, taskId: string): Promise<TaskEvent[]> {
  return (await api("GET", `/v1/tasks/${taskId}/events?after=0`, { token: owner })).body.events;
}

const log = (seq: number, line: string) => ({ seq, type: "log" as const, lines: [line] });

describe("job events", () => {
  it("ignores a batch sent twice", async () => {
    const { owner, task, lease } = await running();
    const batch = [log(1, "a"), log(2, "b")];
    expect((await jobEvents(lease, batch)).body).toEqual({ ackedSeq: 2 });
    expect((await jobEvents(lease, batch)).body).toEqual({ ackedSeq: 2 });
    expect(await taskLog(owner, task.id)).toBe("a\nb\n");
  });

  it("stores an out-of-order batch in seq order", async () => {
    const { owner, task, lease } = await running();
    expect((await jobEvents(lease, [log(3, "c"), log(1, "a"), log(2, "b")])).body).toEqual({ ackedSeq: 3 });
    expect(await taskLog(owner, task.id)).toBe("a\nb\nc\n");
  });

  it("stores only the contiguous prefix of a gapped batch and acknowledges where to resend from", async () => {
    const { owner, task, lease } = await running();
    expect((await jobEvents(lease, [log(1, "a"), log(3, "c")])).body).toEqual({ ackedSeq: 1 });
    expect((await jobEvents(lease, [log(4, "d")])).body).toEqual({ ackedSeq: 1 });
    expect(await taskLog(owner, task.id)).toBe("a\n");
    expect((await jobEvents(lease, [log(2, "b"), log(3, "c"), log(4, "d")])).body).toEqual({ ackedSeq: 4 });
    expect(await taskLog(owner, task.id)).toBe("a\nb\nc\nd\n");
  });

  it("turns runner events into the task's own gapless events, with progress on the task", async () => {
    const { owner, task, lease } = await running();
    await jobEvents(lease, [{ seq: 1, type: "progress", percent: 10, step: "deploy" }, log(2, "x")]);
    const events = await taskEvents(owner, task.id);
    expect(events.map((e) => e.seq)).toEqual([1, 2, 3, 4]);
    expect(events.slice(2).map((e) => e.type)).toEqual(["progress", "log"]);
    const read = (await api("GET", `/v1/tasks/${task.id}`, { token: owner })).body.task;
    expect(read.progress).toEqual({ percent: 10, step: "deploy" });
    expect(read.version).toBe(4);
  });

  it("answers 400 naming the field for a malformed event", async () => {
    const { lease } = await running();
    const res = await api("POST", `/v1/jobs/${lease.task.id}/events`, {
      token: lease.jobToken,
      body: { leaseEpoch: lease.leaseEpoch, events: [{ seq: 0, type: "log", lines: ["x"] }] },
    });
    expect(res.status).toBe(400);
    expect(res.body.error.field).toBe("events[0].seq");
  });
});
