// Resume, don't repeat (issue 13): a runner's checkpoint (the Salesforce job its attempt started)
// becomes a task event of that attempt and stays on the task, so the next attempt's accept hands it on.
import { describe, expect, it } from "vitest";
import type { TaskEvent } from "../../protocol/index.ts";
import { api } from "./helpers.ts";
import { accept, fireTimers, jobEvents, pollOne, readTask, running, taskActor } from "./runner-helpers.ts";

const DEPLOY_ID = "0Af5g00000AbCdEFGH";

async function taskEvents(owner: string, taskId: string): Promise<TaskEvent[]> {
  return (await api("GET", `/v1/tasks/${taskId}/events?after=0`, { token: owner })).body.events;
}

describe("checkpoints", () => {
  it("stores a checkpoint event of the attempt and keeps the checkpoint on the task", async () => {
    const { owner, task, lease } = await running();
    const res = await jobEvents(lease, [
      { seq: 1, type: "log", lines: ["deploy started"] },
      { seq: 2, type: "checkpoint", operation: "deploy", salesforceId: DEPLOY_ID },
    ]);
    expect(res.body).toEqual({ ackedSeq: 2 });
    const events = await taskEvents(owner, task.id);
    expect(events.at(-1)).toMatchObject({ seq: 4, type: "checkpoint", operation: "deploy", salesforceId: DEPLOY_ID, attempt: 1 });
    const read = await readTask(owner, task.id);
    expect(read.checkpoint).toEqual({ operation: "deploy", salesforceId: DEPLOY_ID, attempt: 1, at: events[3].at });
    expect(read.version).toBe(4);
  });

  it("keeps an intent without an id, and a later checkpoint replaces it", async () => {
    const { owner, task, lease } = await running({ type: "quick-deploy", payload: { validationId: "0Af5g00000ValIdAAA" } });
    await jobEvents(lease, [{ seq: 1, type: "checkpoint", operation: "quick-deploy" }]);
    expect((await readTask(owner, task.id)).checkpoint).toMatchObject({ operation: "quick-deploy", attempt: 1 });
    expect((await readTask(owner, task.id)).checkpoint).not.toHaveProperty("salesforceId");
    await jobEvents(lease, [{ seq: 2, type: "checkpoint", operation: "quick-deploy", salesforceId: DEPLOY_ID }]);
    expect((await readTask(owner, task.id)).checkpoint).toMatchObject({ operation: "quick-deploy", salesforceId: DEPLOY_ID });
  });

  it("hands the checkpoint to the next attempt's accept, whose events continue the same stream", async () => {
    const { owner, runner, task, lease } = await running();
    await jobEvents(lease, [{ seq: 1, type: "checkpoint", operation: "deploy", salesforceId: DEPLOY_ID }]);
    await fireTimers(taskActor(task.id), "lease");
    expect(await readTask(owner, task.id)).toMatchObject({ status: "queued", attempt: 2, checkpoint: { salesforceId: DEPLOY_ID, attempt: 1 } });

    const offer = await pollOne(runner.runnerToken);
    const second = await accept(runner.runnerToken, task.id, offer.assignmentId);
    expect(second.status).toBe(200);
    expect(second.body.task).toMatchObject({ attempt: 2, checkpoint: { operation: "deploy", salesforceId: DEPLOY_ID, attempt: 1 } });
    await jobEvents(second.body, [{ seq: 1, type: "log", lines: [`resuming deploy ${DEPLOY_ID}`] }]);
    const events = await taskEvents(owner, task.id);
    expect(events.map((e) => e.seq)).toEqual(events.map((_, i) => i + 1));
    expect(events.map((e) => e.type)).toEqual(["status", "status", "checkpoint", "status", "status", "log"]);
  });

  it("answers 400 naming the field for a checkpoint whose id is not a Salesforce id, or of an unknown operation", async () => {
    const { lease } = await running();
    for (const [event, field] of [
      [{ seq: 1, type: "checkpoint", operation: "deploy", salesforceId: "not an id" }, "events[0].salesforceId"],
      [{ seq: 1, type: "checkpoint", operation: "query", salesforceId: DEPLOY_ID }, "events[0].operation"],
    ] as const) {
      const res = await api("POST", `/v1/jobs/${lease.task.id}/events`, { token: lease.jobToken, body: { leaseEpoch: lease.leaseEpoch, events: [event] } });
      expect(res.status).toBe(400);
      expect(res.body.error.field).toBe(field);
    }
  });
});
