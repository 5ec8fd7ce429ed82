// One leased subscription's subscriber: a jsforce streaming client (faye over CometD long-polling)
// with the replay extension, subscribed from the replay id the edge stored (-1, new events only,
// when there is none). Each event is queued and forwarded to the edge in order; only what the edge
// has taken counts as forwarded, so a subscriber that dies leaves the rest for the next holder.
import { z } from "@hono/zod-openapi";
import type { Client, Subscription } from "faye";
import { StreamingExtension } from "jsforce/lib/api/streaming.js";
import { EdgeError, type EdgeClient } from "../../protocol/client.ts";
import { MAX_EVENTS_PER_DELIVERY, type PlatformEvent, type SubscriptionLease } from "../../protocol/events.ts";
import { backoffMs, exponential, sleep } from "../../protocol/retry.ts";
import type { CredentialBroker } from "../credentials/broker.ts";
import type { Logger } from "../manager/log.ts";
import { connectOrg, type OrgSession } from "../salesforce/connect.ts";

/** Edge answers that mean the lease is no longer this runner's: stop, another holder resumes. */
const LEASE_ENDED = new Set(["stale_lease", "not_found", "unauthenticated", "forbidden"]);
const FORWARD_BACKOFF = exponential(500, 10_000);
/** New events only: Salesforce's replay value for "from now". */
const NEW_EVENTS = -1;

export interface ChannelDeps {
  edge: EdgeClient;
  credentials: CredentialBroker;
  project: string;
  log: Logger;
  /** Called once when the subscriber stops by itself (lease lost, auth refused, subscribe refused). */
  onEnded(reason: string): void;
}

export class ChannelSubscriber {
  readonly lease: SubscriptionLease;
  /** The last replay id the edge took; what the next lease renewal reports. */
  forwarded: number | undefined;
  private readonly deps: ChannelDeps;
  private readonly queue: PlatformEvent[] = [];
  private readonly stopped = new AbortController();
  private session: OrgSession | null = null;
  private client: Client | null = null;
  private subscription: Subscription | null = null;
  private pumping = false;

  constructor(lease: SubscriptionLease, deps: ChannelDeps) {
    this.lease = lease;
    this.forwarded = lease.replayId ?? undefined;
    this.deps = deps;
  }

  get active(): boolean {
    return !this.stopped.signal.aborted;
  }

  async start(): Promise<void> {
    const { lease, deps } = this;
    const { auth, secrets } = await deps.credentials.authFor({ project: deps.project, alias: lease.org });
    for (const secret of secrets) deps.log.addSecret(secret);
    this.session = await connectOrg(auth, { onAccessToken: (token) => deps.log.addSecret(token) });
    if (!this.active) return this.close();
    const replay = new StreamingExtension.Replay(lease.channel, lease.replayId ?? NEW_EVENTS);
    // A handshake or connect refused for good (the session died): end, and let the next renewal start afresh.
    const authFailure = new StreamingExtension.AuthFailure(() => this.end("Salesforce refused the streaming session"));
    this.client = this.session.conn.streaming.createClient([replay, authFailure]);
    this.subscription = this.client.subscribe(lease.channel, (message: unknown) => this.receive(message));
    await this.subscription;
    deps.log.info("subscribed to platform events", {
      subscription: lease.name,
      org: lease.org,
      channel: lease.channel,
      replayFrom: lease.replayId ?? NEW_EVENTS,
    });
  }

  /** Stops listening and forwarding (the lease is gone, or the manager drains). */
  stop(): void {
    if (!this.active) return;
    this.stopped.abort();
    this.close();
  }

  private end(reason: string): void {
    if (!this.active) return;
    this.deps.log.warn("platform event subscriber ended", { subscription: this.lease.name, reason });
    this.stop();
    this.deps.onEnded(reason);
  }

  private close(): void {
    this.subscription?.cancel();
    this.client?.disconnect();
    this.session?.clear();
    this.client = null;
    this.subscription = null;
  }

  private receive(message: unknown): void {
    const event = platformEvent(message);
    if (!event) {
      this.deps.log.warn("ignored a streaming message without a replay id", { subscription: this.lease.name });
      return;
    }
    if (this.forwarded !== undefined && event.replayId <= this.forwarded) return;
    this.queue.push(event);
    void this.pump();
  }

  /** Forwards what is queued, in order, retrying the edge until it takes it or the lease is gone. */
  private async pump(): Promise<void> {
    if (this.pumping) return;
    this.pumping = true;
    let failures = 0;
    try {
      while (this.active && this.queue.length) {
        const batch = this.queue.slice(0, MAX_EVENTS_PER_DELIVERY);
        try {
          const answer = await this.deps.edge.forwardPlatformEvents(this.lease.name, this.lease.leaseEpoch, batch, this.stopped.signal);
          this.queue.splice(0, batch.length);
          this.forwarded = Math.max(this.forwarded ?? 0, answer.replayId);
          failures = 0;
          this.deps.log.info("forwarded platform events", {
            subscription: this.lease.name,
            events: batch.length,
            tasks: answer.tasks,
            replayId: answer.replayId,
          });
        } catch (err) {
          if (!this.active) return;
          if (err instanceof EdgeError && LEASE_ENDED.has(err.code)) return this.end(`the edge refused the delivery (${err.code})`);
          failures++;
          this.deps.log.warn("forwarding platform events failed; retrying", { subscription: this.lease.name, error: err });
          await sleep(backoffMs(FORWARD_BACKOFF, failures), this.stopped.signal);
        }
      }
    } finally {
      this.pumping = false;
    }
  }
}

const CometdEventData = z.object({
  event: z.object({ replayId: z.number().int().min(1).max(Number.MAX_SAFE_INTEGER) }),
  payload: z.record(z.string(), z.unknown()).optional(),
});

/** The event in a CometD message's data (`event.replayId`, `payload`), or null for anything else. */
export function platformEvent(message: unknown): PlatformEvent | null {
  const parsed = CometdEventData.safeParse(message);
  if (!parsed.success) return null;
  const payload = parsed.data.payload ?? {};
  const createdDate = typeof payload.CreatedDate === "string" ? payload.CreatedDate.slice(0, 40) : undefined;
  return { replayId: parsed.data.event.replayId, payload, ...(createdDate ? { createdDate } : {}) };
}
