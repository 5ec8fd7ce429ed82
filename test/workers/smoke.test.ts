import { describe, expect, it } from "vitest";
import { api, createTask, setup } from "./helpers.ts";

describe("smoke", () => {
  it("creates a project and a task and reads it back", async () => {
    const { project, owner } = await setup();
    const task = await createTask(project, owner);
    expect(task.status).toBe("queued");
    const res = await api("GET", `/v1/tasks/${task.id}`, { token: owner });
    expect(res.status).toBe(200);
    expect(res.body.task.id).toBe(task.id);
  });
});
