// A task as the edge hands it to a runner, for tests that play the manager or the worker's parent.
import type { Task, TaskType } from "../protocol/task.ts";

export const TEST_PROJECT = "prj_01JD0000000000000000000000";

export function testTask(type: TaskType, payload: Record<string, unknown>, overrides: Partial<Task> = {}): Task {
  const now = new Date().toISOString();
  return {
    id: "tsk_01JD0000000000000000000000",
    project: TEST_PROJECT,
    type,
    org: "uat",
    payload,
    priority: "normal",
    pool: "default",
    labels: [],
    status: "running",
    attempt: 1,
    maxAttempts: 3,
    timeoutSeconds: 600,
    version: 2,
    createdAt: now,
    updatedAt: now,
    source: { kind: "api", tokenId: "tok_01JD0000000000000000000000" },
    ...overrides,
  };
}
