// Drives a task through the runner protocol (docs/API.md "Runner protocol") as a runner would, so system tests can
// make a task run, log and finish without a runner process.
import { EdgeClient } from "../../protocol/client.ts";
import type { Accepted, PollAnswer, Registered } from "../../protocol/runner.ts";
import type { WorkerEvent } from "../../runner/ipc.ts";

export interface Job {
  client: EdgeClient;
  taskId: string;
  leaseEpoch: number;
  seq: number;
  events(...events: WorkerEvent[]): Promise<void>;
  finish(outcome: "succeeded" | "failed", extra?: { result?: unknown; error?: { code: string; message: string } }): Promise<void>;
}

/** Registers a runner on `pool`, polls until `taskId` is assigned, and accepts it: the task is running. */
export async function takeTask(url: string, project: string, ownerToken: string, taskId: string, pool = "default"): Promise<Job> {
  const owner = new EdgeClient(url, ownerToken);
  const { body: reg } = await owner.request<{ token: string }>("POST", `/v1/projects/${project}/registration-tokens`, { body: { pool } });
  const { body: runner } = await new EdgeClient(url).request<Registered>("POST", "/v1/runners/register", {
    body: { registrationToken: reg.token, name: `test-runner-${taskId}`, labels: [], slots: 1, ephemeral: true, version: "test" },
  });
  const asRunner = new EdgeClient(url, runner.runnerToken);
  for (let tries = 0; tries < 10; tries++) {
    const res = await asRunner.request<PollAnswer | undefined>("POST", "/v1/runners/poll", { body: { freeSlots: 1, waitSeconds: 5 } });
    const assignment = res.body?.assignments.find((a) => a.taskId === taskId);
    if (!assignment) continue;
    const { body: accepted } = await asRunner.request<Accepted>("POST", `/v1/jobs/${taskId}/accept`, { body: { assignmentId: assignment.assignmentId } });
    const asJob = new EdgeClient(url, accepted.jobToken);
    const job: Job = {
      client: asJob,
      taskId,
      leaseEpoch: accepted.leaseEpoch,
      seq: 0,
      async events(...events) {
        const numbered = events.map((e) => ({ ...e, seq: ++job.seq }));
        await asJob.request("POST", `/v1/jobs/${taskId}/events`, { body: { leaseEpoch: job.leaseEpoch, events: numbered } });
      },
      async finish(outcome, extra = {}) {
        await asJob.request("POST", `/v1/jobs/${taskId}/finish`, { body: { leaseEpoch: job.leaseEpoch, outcome, ...extra } });
      },
    };
    return job;
  }
  throw new Error(`task ${taskId} was never assigned to the test runner`);
}
