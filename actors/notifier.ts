// The ProjectActor's outbound notifications (issue 14). Every task status change reaches the
// ProjectActor through the TaskActor's durable outbox (task-outbox.ts `project`), committed with the
// transition itself; here that change becomes rows — Standard Webhooks deliveries to the endpoints that
// want the event, and commit statuses (notify-statuses.ts) — in the same commit as the task index
// update. Sending happens after, from those rows, never inside the transition: the first attempt at
// once, retries on the `notify` timer with the schedule of notify-deliveries.ts.
import { log } from "../common/log.ts";
import { checkEndpointUrl } from "../common/endpoint-url.ts";
import { boxSecret } from "../common/secret-box.ts";
import { isTerminal, type TaskSummary } from "../protocol/index.ts";
import { ALLOW_LOOPBACK_SETTING } from "../protocol/notify.ts";
import type { Env } from "./env.ts";
import { ATTEMPT_TIMEOUT_MS, type DeliveryRow, MAX_TRIES, NotifyDeliveries } from "./notify-deliveries.ts";
import { type EndpointRow, newDeliveryId, NotifyEndpoints, standardSignature } from "./notify-endpoints.ts";
import type { Timers } from "./timers.ts";

export const NOTIFY_TIMER = "notify";
/** Deliveries started at once by one run; the rest follow as these finish. */
const BATCH = 20;

/** A later part that owes its own sends (commit statuses): queued from the same changes, sent on the same timer. */
export interface NotifyChannel {
  /** Queues what the change owes; true when it queued anything. */
  taskChanged(task: TaskSummary, now: number): boolean;
  nextDue(): number | null;
  /** Starts the sends due at `now`; resolves when they are answered. */
  sendDue(now: number): Promise<void>;
}

export function allowLoopback(env: Env): boolean {
  const value = env[ALLOW_LOOPBACK_SETTING];
  return value === "1" || value === "true";
}

export class Notifier {
  readonly endpoints: NotifyEndpoints;
  readonly deliveries: NotifyDeliveries;
  private readonly env: Env;
  private readonly timers: Timers;
  private readonly channels: NotifyChannel[] = [];
  private readonly inFlight = new Set<string>();

  constructor(sql: SqlStorage, env: Env, timers: Timers, project: () => string) {
    this.env = env;
    this.timers = timers;
    this.endpoints = new NotifyEndpoints(sql, { project, boxSecret: boxSecret(env), allowLoopback: () => allowLoopback(env) });
    this.deliveries = new NotifyDeliveries(sql);
  }

  addChannel(channel: NotifyChannel): void {
    this.channels.push(channel);
  }

  /** Task status changes (called in the commit that indexes them): queue what they owe, then send it. */
  tasksChanged(tasks: readonly TaskSummary[]): void {
    const now = Date.now();
    let queued = false;
    for (const task of tasks) queued = this.record(task, now) || queued;
    if (queued) this.kick();
  }

  private record(task: TaskSummary, now: number): boolean {
    let queued = false;
    if (isTerminal(task.status)) {
      const event = `task.${task.status}`;
      for (const endpoint of this.endpoints.subscribers(event)) {
        const body = JSON.stringify({ type: event, timestamp: new Date(now).toISOString(), data: { task: taskBrief(task, endpoint.origin) } });
        queued =
          this.deliveries.add(newDeliveryId(), endpoint.name, event, task.id, body, `${endpoint.name}/${task.id}/${event}/${task.attempt}`, now) || queued;
      }
    }
    for (const channel of this.channels) queued = channel.taskChanged(task, now) || queued;
    return queued;
  }

  /** Sends what is due now without making the caller wait; the timer covers a reset before it does. */
  kick(): void {
    this.schedule();
    this.run().catch((err: unknown) => log("error", "notification run failed", { error: String(err) }));
  }

  /** Sends every delivery due now (the alarm's `notify` timer, a kick, a redeliver). */
  async run(): Promise<void> {
    const now = Date.now();
    const rows = this.deliveries.due(now, BATCH + this.inFlight.size).filter((r) => !this.inFlight.has(r.id));
    const sends = rows.slice(0, BATCH).map((row) => this.attempt(this.deliveries.book(row, now)));
    sends.push(...this.channels.map((c) => c.sendDue(now)));
    this.schedule();
    await Promise.all(sends);
    this.schedule();
  }

  /** Points the `notify` timer at the earliest pending retry, or clears it. */
  schedule(): void {
    const due = [this.deliveries.nextDue(), ...this.channels.map((c) => c.nextDue())].filter((t): t is number => t !== null);
    if (due.length) this.timers.set(NOTIFY_TIMER, Math.min(...due));
    else this.timers.clear(NOTIFY_TIMER);
    this.timers.arm().catch((err: unknown) => log("error", "could not arm the notify timer", { error: String(err) }));
  }

  private async attempt(row: DeliveryRow): Promise<void> {
    this.inFlight.add(row.id);
    try {
      const endpoint = this.endpoints.row(row.endpoint);
      if (!endpoint?.enabled) return this.deliveries.answered(row.id, null, "failed");
      const code = await this.post(endpoint, row);
      this.settle(endpoint, row, code);
    } finally {
      this.inFlight.delete(row.id);
    }
  }

  /** One signed POST; the status code, or null when no answer came (refused URL, network, timeout). */
  private async post(endpoint: EndpointRow, row: DeliveryRow): Promise<number | null> {
    const verdict = checkEndpointUrl(endpoint.url, allowLoopback(this.env));
    if (!verdict.ok) {
      log("warn", "notification endpoint refused at send time", { endpoint: endpoint.name, reason: verdict.reason });
      return null;
    }
    const now = Date.now();
    const timestamp = Math.floor(now / 1000);
    const secrets = await this.endpoints.signingSecrets(endpoint, now);
    if (!secrets.length) {
      log("error", "notification endpoint secret cannot be opened (was SECRETS_KEY changed?); rotate it", { endpoint: endpoint.name });
      return null;
    }
    const abort = new AbortController();
    // A timer of our own, cleared after the answer: a pending AbortSignal.timeout would keep the actor busy.
    const timer = setTimeout(() => abort.abort(new Error("no answer in time")), ATTEMPT_TIMEOUT_MS);
    try {
      const res = await fetch(verdict.url, {
        method: "POST",
        redirect: "manual",
        signal: abort.signal,
        headers: {
          "content-type": "application/json",
          "user-agent": "sfp-edge-webhooks",
          "webhook-id": row.id,
          "webhook-timestamp": String(timestamp),
          "webhook-signature": await standardSignature(secrets, row.id, timestamp, row.body),
        },
        body: row.body,
      });
      await res.body?.cancel();
      return res.status;
    } catch (err) {
      log("warn", "notification delivery got no answer", { endpoint: endpoint.name, deliveryId: row.id, error: String(err) });
      return null;
    } finally {
      clearTimeout(timer);
    }
  }

  /** 2xx: done. 410: the endpoint is disabled. Otherwise retry, until the schedule is spent. */
  private settle(endpoint: EndpointRow, row: DeliveryRow, code: number | null): void {
    if (code !== null && code >= 200 && code < 300) {
      this.deliveries.answered(row.id, code, "succeeded");
      this.endpoints.succeeded(endpoint.name, Date.now());
      return;
    }
    if (code === 410) {
      this.deliveries.answered(row.id, code, "failed");
      this.disable(endpoint.name, "the endpoint answered 410 Gone");
      return;
    }
    if (row.tries < MAX_TRIES) {
      this.deliveries.answered(row.id, code, "retry");
      return;
    }
    this.deliveries.answered(row.id, code, "failed");
    // Every attempt of a whole schedule failed and nothing reached the endpoint meanwhile.
    if ((endpoint.last_success_at ?? 0) < row.created_at)
      this.disable(endpoint.name, "every attempt of a delivery failed for its whole retry schedule (about 31 hours)");
  }

  /** Disables the endpoint, ends its pending deliveries and tells the endpoints that want `endpoint.disabled`. */
  private disable(name: string, reason: string): void {
    this.endpoints.disable(name, reason);
    this.deliveries.failPending(name);
    log("warn", "notification endpoint disabled", { endpoint: name, reason });
    const now = Date.now();
    const event = "endpoint.disabled";
    for (const other of this.endpoints.subscribers(event)) {
      const body = JSON.stringify({ type: event, timestamp: new Date(now).toISOString(), data: { endpoint: name, reason } });
      this.deliveries.add(newDeliveryId(), other.name, event, null, body, `${other.name}/${event}/${name}/${now}`, now);
    }
    this.kick();
  }
}

/** Where a task came from, without a token id or a source's credential id. */
function briefSource(source: TaskSummary["source"]): Record<string, unknown> {
  if (source.kind === "webhook") return { kind: "webhook", sourceName: source.sourceName, event: source.event };
  // issue 15: a schedule's slot.
  if (source.kind === "schedule") return { kind: "schedule", schedule: source.schedule, slot: source.slot };
  return { kind: "api" };
}

/** What a delivery tells of a task: a summary without payload, result, labels or tokens, and its dashboard link. */
export function taskBrief(task: TaskSummary, origin: string | null): Record<string, unknown> {
  const { id, project, type, org, pool, status, attempt, createdAt, startedAt, finishedAt, error } = task;
  const source = briefSource(task.source);
  return {
    id,
    project,
    type,
    org,
    pool,
    status,
    attempt,
    createdAt,
    startedAt,
    finishedAt,
    ...(error ? { error: { code: error.code, message: error.message.slice(0, 500) } } : {}),
    source,
    ...("commit" in task && task.commit ? { commit: task.commit } : {}),
    url: dashboardLink(origin, id),
  };
}

export function dashboardLink(origin: string | null, taskId: string): string | null {
  return origin ? `${origin}/#task=${taskId}` : null;
}
