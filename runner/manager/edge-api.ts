// The runner protocol (docs/API.md "Runner protocol") over EdgeClient: one method per call, each with its named retry
// policy next to it, every answer checked against the contract's schema, every failure counted.
import { z } from "@hono/zod-openapi";
import { EdgeClient, EdgeError } from "../../protocol/client.ts";
import {
  Accepted,
  JobEventsAnswer,
  JobHeartbeatAnswer,
  PollAnswer,
  Registered,
  RunnerHeartbeatAnswer,
  type Assignment,
  type FinishBody,
  type RegisterBody,
  type RunnerAction,
  type RunnerEvent,
  type RunnerHeartbeatBody,
} from "../../protocol/runner.ts";
import { withRetry } from "../../protocol/retry.ts";
import type { JobSample } from "../../protocol/live.ts";
import { RETRY, TIMING } from "./config.ts";
import type { Logger } from "./log.ts";
import type { Metrics } from "./metrics.ts";

export class RunnerApi {
  readonly client: EdgeClient;
  private readonly metrics: Metrics;
  private readonly log: Logger;

  constructor(edgeUrl: string, deps: { metrics: Metrics; log: Logger }) {
    this.client = new EdgeClient(edgeUrl);
    this.metrics = deps.metrics;
    this.log = deps.log;
  }

  set runnerToken(token: string | undefined) {
    this.client.token = token;
    this.log.addSecret(token);
  }

  register(body: RegisterBody, signal?: AbortSignal): Promise<Registered> {
    this.log.addSecret(body.registrationToken);
    return withRetry(RETRY.register, () => this.call("register", "POST", "/v1/runners/register", Registered, { body, token: "" }, signal), { signal }).then(
      (registered) => {
        this.runnerToken = registered.runnerToken;
        return registered;
      },
    );
  }

  /** Long-polls for work; an empty list after the wait (204). Retried by the poll loop, not here. */
  async poll(freeSlots: number, waitSeconds: number, signal?: AbortSignal): Promise<Assignment[]> {
    const timeoutMs = waitSeconds * 1000 + TIMING.pollSlackMs;
    const answer = await this.call("poll", "POST", "/v1/runners/poll", PollAnswer.optional(), { body: { freeSlots, waitSeconds } }, signal, timeoutMs);
    return answer?.assignments ?? [];
  }

  /** Retries with the same assignmentId: the edge answers a repeated accept the same way. */
  accept(taskId: string, assignmentId: string, signal?: AbortSignal): Promise<Accepted> {
    return withRetry(
      RETRY.accept,
      () => this.call("accept", "POST", `/v1/jobs/${encodeURIComponent(taskId)}/accept`, Accepted, { body: { assignmentId } }, signal),
      { signal },
    ).then((accepted) => {
      this.log.addSecret(accepted.jobToken);
      return accepted;
    });
  }

  jobHeartbeat(taskId: string, jobToken: string, leaseEpoch: number, deadline: () => number, resources?: JobSample): Promise<JobHeartbeatAnswer> {
    const body = resources ? { leaseEpoch, resources } : { leaseEpoch };
    return withRetry(
      RETRY.jobHeartbeat,
      () => this.call("job_heartbeat", "POST", `/v1/jobs/${encodeURIComponent(taskId)}/heartbeat`, JobHeartbeatAnswer, { body, token: jobToken }),
      { deadline },
    );
  }

  /** One attempt; the job's event sender owns the retry loop (it resends whatever is not acked). */
  async postEvents(taskId: string, jobToken: string, leaseEpoch: number, events: RunnerEvent[]): Promise<number> {
    const path = `/v1/jobs/${encodeURIComponent(taskId)}/events`;
    const answer = await this.call("events", "POST", path, JobEventsAnswer, { body: { leaseEpoch, events }, token: jobToken });
    return answer.ackedSeq;
  }

  finish(taskId: string, jobToken: string, body: FinishBody, deadline: () => number): Promise<void> {
    return withRetry(
      RETRY.finish,
      async () => {
        await this.call("finish", "POST", `/v1/jobs/${encodeURIComponent(taskId)}/finish`, z.unknown(), { body, token: jobToken });
      },
      { deadline },
    );
  }

  async heartbeat(body: RunnerHeartbeatBody): Promise<RunnerAction[]> {
    const answer = await withRetry(RETRY.runnerHeartbeat, () =>
      this.call("runner_heartbeat", "POST", "/v1/runners/heartbeat", RunnerHeartbeatAnswer, { body }),
    );
    return answer.actions;
  }

  /** Checks a stored runner token with a heartbeat (there is no other cheap authenticated call). */
  async verifyToken(body: RunnerHeartbeatBody): Promise<RunnerAction[]> {
    const answer = await withRetry(RETRY.verifyToken, () => this.call("runner_heartbeat", "POST", "/v1/runners/heartbeat", RunnerHeartbeatAnswer, { body }));
    return answer.actions;
  }

  async deregister(): Promise<void> {
    await withRetry(RETRY.deregister, () => this.call("deregister", "DELETE", "/v1/runners/self", z.unknown(), {}));
  }

  private async call<S extends z.ZodType>(
    name: string,
    method: string,
    path: string,
    schema: S,
    opts: { body?: unknown; token?: string },
    signal?: AbortSignal,
    timeoutMs: number = TIMING.requestTimeoutMs,
  ): Promise<z.infer<S>> {
    const timeout = AbortSignal.timeout(timeoutMs);
    const combined = signal ? AbortSignal.any([signal, timeout]) : timeout;
    try {
      const res = await this.client.request<unknown>(method, path, { ...opts, signal: combined });
      const parsed = schema.safeParse(res.body);
      if (!parsed.success) {
        throw new EdgeError(res.status, "internal", `the edge's answer to ${name} does not match the contract: ${parsed.error.message}`);
      }
      return parsed.data;
    } catch (err) {
      // Our own timeout is a network failure (retryable); the caller's abort is passed on as is.
      const failure =
        !(err instanceof EdgeError) && timeout.aborted && !signal?.aborted ? new EdgeError(0, "network", `${name} timed out after ${timeoutMs} ms`) : err;
      if (failure instanceof EdgeError) {
        this.metrics.edgeError(name, failure.code);
        this.log.debug("edge call failed", { call: name, status: failure.status, code: failure.code, error: failure.message });
      }
      throw failure;
    }
  }
}
