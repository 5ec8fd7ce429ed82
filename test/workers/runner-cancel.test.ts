import { describe, expect, it } from "vitest";
import { api, createTask, setup } from "./helpers.ts";
import {
  accept,
  dispatcher,
  finish,
  fireTimers,
  jobHeartbeat,
  poll,
  pollOne,
  readTask,
  register,
  running,
  runnerHeartbeat,
  taskActor,
} from "./runner-helpers.ts";

function cancel(owner: string, taskId: string) {
  return api("POST", `/v1/tasks/${taskId}/cancel`, { token: owner });
}

describe("cancel in every state", () => {
  it("cancels a queued task at once and takes it out of the queue", async () => {
    const { project, owner } = await setup();
    const runner = await register(project, owner);
    const task = await createTask(project, owner);
    const res = await cancel(owner, task.id);
    expect(res.status).toBe(202);
    expect(res.body.task.status).toBe("canceled");
    expect(await dispatcher(project).queued()).toEqual([]);
    expect((await poll(runner.runnerToken)).status).toBe(204);
  });

  it("cancels an assigned but not accepted task, and its accept then answers 410", async () => {
    const { project, owner } = await setup();
    const runner = await register(project, owner);
    const task = await createTask(project, owner);
    const offer = await pollOne(runner.runnerToken);
    expect((await cancel(owner, task.id)).body.task.status).toBe("canceled");
    const res = await accept(runner.runnerToken, task.id, offer.assignmentId);
    expect(res.status).toBe(410);
    expect((await poll(runner.runnerToken)).status).toBe(204);
  });

  it("moves a running task to canceling, tells the runner, and cancels it when the runner confirms", async () => {
    const { owner, runner, task, lease } = await running();
    expect((await cancel(owner, task.id)).body.task.status).toBe("canceling");
    expect((await jobHeartbeat(lease)).body.cancelRequested).toBe(true);
    expect((await runnerHeartbeat(runner.runnerToken, { state: "busy", freeSlots: 0, activeTasks: [task.id] })).body.actions).toEqual([
      { type: "cancel", taskId: task.id },
    ]);
    const done = await finish(lease, { outcome: "canceled" });
    expect(done.status).toBe(200);
    expect(done.body.task.status).toBe("canceled");
  });

  it("lets a canceling task still finish as the runner reports it", async () => {
    const { owner, task, lease } = await running();
    await cancel(owner, task.id);
    expect((await finish(lease, { outcome: "succeeded" })).body.task.status).toBe("succeeded");
  });

  it("answers a second cancel of a canceling task with the same task, and cancels it when the lease lapses", async () => {
    const { owner, task } = await running();
    const first = await cancel(owner, task.id);
    const second = await cancel(owner, task.id);
    expect(second.status).toBe(202);
    expect(second.body.task.version).toBe(first.body.task.version);
    await fireTimers(taskActor(task.id), "lease");
    expect((await readTask(owner, task.id)).status).toBe("canceled");
  });

  it("answers 409 to a cancel of a finished task", async () => {
    const { owner, task, lease } = await running();
    await finish(lease);
    const res = await cancel(owner, task.id);
    expect(res.status).toBe(409);
    expect(res.body.error.code).toBe("already_finished");
  });
});
