// Platform Event subscriptions as the ProjectActor serves them (issue 15): the stored subscriptions
// (project-subscriptions.ts) checked against the project's orgs, webhook sources and runners, so the
// actor's RPC methods only delegate. Every call first proves the project exists.
import { rpcError } from "../protocol/index.ts";
import type { EventSubscription, PutEventSubscriptionBody, SubscriptionLease, SubscriptionLeaseBody } from "../protocol/events.ts";
import type { WebhookSourceRecord } from "../protocol/webhook.ts";
import type { ProjectOrgs } from "./project-orgs.ts";
import type { RunnerRegistry } from "./project-runners.ts";
import type { WebhookSources } from "./project-sources.ts";
import type { ProjectSubscriptions } from "./project-subscriptions.ts";

export interface ProjectEventsDeps {
  subscriptions: ProjectSubscriptions;
  orgs: ProjectOrgs;
  sources: WebhookSources;
  runners: RunnerRegistry;
  /** The project's id; throws not_found for a project never created. */
  project: () => string;
}

export class ProjectEvents {
  private readonly d: ProjectEventsDeps;

  constructor(deps: ProjectEventsDeps) {
    this.d = deps;
  }

  /** The org must be registered and the source a salesforce-event source of this project. */
  put(name: string, body: PutEventSubscriptionBody): EventSubscription {
    this.d.project();
    if (!this.d.orgs.settings(body.org)) throw rpcError("invalid_request", `org: unknown org alias "${body.org}"`);
    const source = this.d.sources.list().find((s) => s.name === body.source);
    if (source?.kind !== "salesforce-event")
      throw rpcError("invalid_request", `source: "${body.source}" is not a salesforce-event webhook source of this project`);
    return this.d.subscriptions.put(name, body);
  }

  get(name: string): EventSubscription {
    this.d.project();
    return this.d.subscriptions.get(name);
  }

  list(): EventSubscription[] {
    this.d.project();
    return this.d.subscriptions.list();
  }

  delete(name: string): void {
    this.d.project();
    this.d.subscriptions.delete(name);
  }

  /** A webhook source a subscription maps its events with cannot be deleted. */
  checkSourceUnused(source: string): void {
    const users = this.d.subscriptions.usingSource(source);
    if (users.length) throw rpcError("conflict", `event subscription "${users[0]}" maps its events with this source; delete or re-point it first`);
  }

  /** A runner's lease ask (renew and take); a revoked runner is refused. */
  lease(runnerId: string, pool: string, body: SubscriptionLeaseBody, leaseSeconds: number): SubscriptionLease[] {
    this.d.project();
    this.liveRunner(runnerId);
    const pools = this.d.orgs.pools();
    return this.d.subscriptions.lease(runnerId, (org) => pools[org]?.pool, pool, body, leaseSeconds * 1000);
  }

  /** What a holder's delivery needs: the subscription (its live lease checked) and its source, rules included. */
  deliveryTarget(name: string, runnerId: string, epoch: number): { subscription: EventSubscription; source: WebhookSourceRecord } {
    const project = this.d.project();
    this.liveRunner(runnerId);
    const subscription = this.d.subscriptions.held(name, runnerId, epoch);
    const source = this.d.sources.list().find((s) => s.name === subscription.source);
    const record = source ? this.d.sources.byId(project, source.id) : null;
    if (!record) throw rpcError("conflict", `the subscription's source "${subscription.source}" is gone`);
    return { subscription, source: record };
  }

  /** The last event the holder forwarded (its tasks durable): where the next subscriber resumes. */
  forwarded(name: string, runnerId: string, epoch: number, replayId: number): number {
    this.d.subscriptions.held(name, runnerId, epoch);
    this.d.subscriptions.advance(name, replayId);
    return this.d.subscriptions.get(name).replayId ?? replayId;
  }

  /** The runner's registration is gone: it holds no lease any more. */
  runnerRevoked(runnerId: string): void {
    this.d.subscriptions.dropRunner(runnerId);
  }

  private liveRunner(runnerId: string): void {
    try {
      this.d.runners.poolOf(runnerId);
    } catch {
      throw rpcError("unauthenticated", "this runner is revoked, deregistered or unknown");
    }
  }
}
