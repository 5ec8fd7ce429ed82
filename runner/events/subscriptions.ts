// The runner's Platform Event subscriptions (issue 15; runner/README.md "Platform Events"): it asks
// the edge for subscription leases every renewSeconds — renewing those it holds, with the last
// replay id each forwarded — starts a subscriber (channel.ts) for each lease it gains and stops the
// one of each lease it lost. A runner that dies stops renewing; within one lease period another runner
// of the pool takes the subscription over and resumes from the stored replay id.
import { EdgeError, type EdgeClient } from "../../protocol/client.ts";
import type { SubscriptionLease } from "../../protocol/events.ts";
import { backoffMs, exponential, sleep } from "../../protocol/retry.ts";
import type { CredentialBroker } from "../credentials/broker.ts";
import type { Logger } from "../manager/log.ts";
import { ChannelSubscriber } from "./channel.ts";

const ASK_BACKOFF = exponential(1_000, 15_000);

export interface EventSubscriptionsDeps {
  edge: EdgeClient;
  credentials: CredentialBroker;
  project: string;
  log: Logger;
}

export class EventSubscriptions {
  private readonly deps: EventSubscriptionsDeps;
  private readonly running = new Map<string, ChannelSubscriber>();
  private readonly stopped = new AbortController();
  private loop: Promise<void> | null = null;
  private asked = false;

  constructor(deps: EventSubscriptionsDeps) {
    this.deps = deps;
  }

  /** Starts the lease loop; `stop` ends it and every subscriber. */
  start(): void {
    this.loop ??= this.run();
  }

  async stop(): Promise<void> {
    this.stopped.abort();
    for (const subscriber of this.running.values()) subscriber.stop();
    this.running.clear();
    await this.loop;
  }

  /** Names of the subscriptions this runner subscribes to now. */
  held(): string[] {
    return [...this.running.keys()].sort();
  }

  private async run(): Promise<void> {
    let failures = 0;
    while (!this.stopped.signal.aborted) {
      let waitMs: number;
      try {
        const answer = await this.deps.edge.leaseSubscriptions({ held: this.heldLeases() }, this.stopped.signal);
        failures = 0;
        if (!this.asked) this.deps.log.info("asked for platform event subscriptions", { leases: answer.leases.map((l) => l.name) });
        this.asked = true;
        this.apply(answer.leases);
        waitMs = answer.renewSeconds * 1000;
      } catch (err) {
        if (this.stopped.signal.aborted) return;
        // An edge without the route (older than Platform Events) answers 404: nothing to subscribe to there.
        if (err instanceof EdgeError && err.code === "not_found") {
          this.deps.log.info("the edge offers no Platform Event subscriptions; not asking again", { error: err });
          return;
        }
        failures++;
        waitMs = backoffMs(ASK_BACKOFF, failures);
        const refused = err instanceof EdgeError && (err.code === "unauthenticated" || err.code === "forbidden");
        this.deps.log[refused ? "error" : "warn"]("subscription lease request failed", { error: err, retryInMs: waitMs });
      }
      await sleep(waitMs, this.stopped.signal);
    }
  }

  private heldLeases() {
    return [...this.running.values()].map((s) => ({
      name: s.lease.name,
      leaseEpoch: s.lease.leaseEpoch,
      ...(s.forwarded !== undefined ? { replayId: s.forwarded } : {}),
    }));
  }

  private apply(leases: SubscriptionLease[]): void {
    const granted = new Map(leases.map((l) => [l.name, l]));
    for (const [name, subscriber] of this.running) {
      const lease = granted.get(name);
      if (lease && lease.leaseEpoch === subscriber.lease.leaseEpoch && subscriber.active) continue;
      subscriber.stop();
      this.running.delete(name);
      if (!lease || lease.leaseEpoch !== subscriber.lease.leaseEpoch) this.deps.log.info("platform event subscription lease lost", { subscription: name });
    }
    for (const lease of leases) {
      if (this.running.has(lease.name) || this.stopped.signal.aborted) continue;
      this.begin(lease);
    }
  }

  private begin(lease: SubscriptionLease): void {
    const subscriber = new ChannelSubscriber(lease, {
      ...this.deps,
      // Ended by itself (lease lost, session refused): forgotten, so the next answer starts it afresh if still ours.
      onEnded: () => {
        if (this.running.get(lease.name) === subscriber) this.running.delete(lease.name);
      },
    });
    this.running.set(lease.name, subscriber);
    this.deps.log.info("platform event subscription lease taken", { subscription: lease.name, leaseEpoch: lease.leaseEpoch, replayId: lease.replayId });
    subscriber.start().catch((err: unknown) => {
      this.deps.log.warn("platform event subscriber could not start", { subscription: lease.name, error: err });
      subscriber.stop();
      if (this.running.get(lease.name) === subscriber) this.running.delete(lease.name);
    });
  }
}
