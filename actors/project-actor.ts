// One ProjectActor per project: its tokens (hashes only) and their revocations, org metadata, the
// task index behind the list endpoint, Idempotency-Keys, WebSocket tickets, webhook sources, runner
// registration, and the project feed. Each concern is a module of its own (actors/project-*.ts);
// this file is the RPC surface, and every method delegates.
import { DurableObject } from "cloudflare:workers";
import { type Env, orgStub, taskStub } from "./env.ts";
import type {
  CreateRegistrationTokenBody,
  CreateTokenBody,
  Org,
  OrgSettings,
  Project,
  PutOrgBody,
  Role,
  RunnerLoad,
  TaskList,
  TaskSummary,
  TokenInfo,
} from "../protocol/index.ts";
import type { PutWebhookSourceBody, WebhookSource, WebhookSourceRecord } from "../protocol/webhook.ts";
import { isTerminal, rpcError } from "../protocol/index.ts";
import { TOKEN_REVOKED_CLOSE } from "./sockets.ts";
import { migrate } from "./sql.ts";
import { ProjectFeed } from "./project-feed.ts";
import { IdempotencyKeys } from "./project-idempotency.ts";
import { TaskIndex, type TaskListQuery } from "./project-index.ts";
import { ProjectOrgs, settingsOf } from "./project-orgs.ts";
import { RunnerRegistry } from "./project-runners.ts";
import { PROJECT_MIGRATIONS } from "./project-schema.ts";
import { WebhookSources } from "./project-sources.ts";
import { WsTickets } from "./project-tickets.ts";
import { type CreatedToken, ProjectTokens } from "./project-tokens.ts";
import { TokenWatches } from "./project-watchers.ts";
import { countTaskChange } from "./metrics-tasks.ts";
import { count } from "./metrics.ts";
import { Notifier, NOTIFY_TIMER } from "./notifier.ts";
import type { NotificationDelivery, NotificationEndpoint, NotificationEndpointAnswer, PutNotificationEndpointBody } from "../protocol/notify.ts";
import { Timers } from "./timers.ts";
import { SourceStatusTokens } from "./notify-status-tokens.ts";
import { CommitStatuses } from "./notify-statuses.ts";
import { boxSecret } from "../common/secret-box.ts";
import { ProjectSubscriptions } from "./project-subscriptions.ts";
import { ProjectEvents } from "./project-events.ts";
import type { EventSubscription, PutEventSubscriptionBody, SubscriptionLease, SubscriptionLeaseBody } from "../protocol/events.ts";

export interface ProjectView {
  revoked: string[];
  orgs: Record<string, { pool: string; protected: boolean }>;
}

export class ProjectActor extends DurableObject<Env> {
  private readonly tokens: ProjectTokens;
  private readonly orgs: ProjectOrgs;
  private readonly index: TaskIndex;
  private readonly idempotency: IdempotencyKeys;
  private readonly tickets: WsTickets;
  private readonly sources: WebhookSources;
  private readonly runners: RunnerRegistry;
  private readonly feed: ProjectFeed;
  private readonly watches: TokenWatches;
  private readonly timers: Timers;
  private readonly notifier: Notifier;
  private readonly statusTokens: SourceStatusTokens;
  private readonly events: ProjectEvents;

  constructor(ctx: DurableObjectState, env: Env) {
    super(ctx, env);
    const sql = ctx.storage.sql;
    this.tokens = new ProjectTokens(sql, env.TOKEN_SIGNING_KEY);
    this.orgs = new ProjectOrgs(sql);
    this.index = new TaskIndex(sql);
    this.idempotency = new IdempotencyKeys(sql);
    this.tickets = new WsTickets(sql, env.TOKEN_SIGNING_KEY, (tokenId, now) => this.tokens.isLive(tokenId, now));
    this.sources = new WebhookSources(sql, env.TOKEN_SIGNING_KEY);
    this.runners = new RunnerRegistry(sql, env.TOKEN_SIGNING_KEY);
    this.feed = new ProjectFeed(ctx);
    this.watches = new TokenWatches(sql);
    this.timers = new Timers(ctx.storage);
    this.notifier = new Notifier(sql, env, this.timers, () => this.tokens.project().id);
    this.statusTokens = new SourceStatusTokens(sql, {
      project: () => this.tokens.project().id,
      boxSecret: boxSecret(env),
      checkUrl: (url, field) => this.notifier.endpoints.checkUrl(url, field),
    });
    const project = () => this.tokens.project().id;
    this.events = new ProjectEvents({ subscriptions: new ProjectSubscriptions(sql), orgs: this.orgs, sources: this.sources, runners: this.runners, project });
    this.notifier.addChannel(new CommitStatuses(sql, this.statusTokens, () => this.notifier.kick()));
    ctx.blockConcurrencyWhile(async () => migrate(sql, PROJECT_MIGRATIONS));
  }

  // ---- project and tokens

  async init(id: string, name: string): Promise<{ project: Project; ownerToken: string }> {
    return this.tokens.init(id, name);
  }

  async info(): Promise<Project> {
    return this.tokens.project();
  }

  async createToken(body: CreateTokenBody): Promise<CreatedToken> {
    return this.tokens.create(body);
  }

  async listTokens(): Promise<TokenInfo[]> {
    return this.tokens.list();
  }

  /**
   * Revokes the token and closes its sockets with 4401: the feed's here, and each TaskActor it opened
   * a socket on is told (project-watchers.ts says why this way); a retried DELETE finishes the job.
   */
  async revokeToken(id: string): Promise<void> {
    this.tokens.revoke(id);
    this.feed.closeToken(id, TOKEN_REVOKED_CLOSE, "token revoked");
    await this.watches.closeAll(id, (taskId) => taskStub(this.env, taskId).closeToken(id));
  }

  /**
   * A TaskActor accepted a socket opened with this token: whether the token still lives (the edge
   * checked a view up to 30 s old), recording the pair when it does so revocation can find it.
   */
  async watchTask(tokenId: string, taskId: string): Promise<boolean> {
    if (!this.tokens.isLive(tokenId)) return false;
    this.watches.record(tokenId, taskId);
    return true;
  }

  /** What every edge caches for a short while: revoked token ids and the orgs' pools. */
  async view(): Promise<ProjectView> {
    this.tokens.project();
    return { revoked: this.tokens.revokedIds(), orgs: this.orgs.pools() };
  }

  // ---- orgs

  /** Stores the org, then tells its lock (org-actor.ts); should that fail, the PUT fails and its retry tells it. */
  async putOrg(alias: string, body: PutOrgBody): Promise<Org> {
    const project = this.tokens.project();
    const org = this.orgs.put(alias, body);
    await orgStub(this.env, project.id, alias).configure(project.id, alias, settingsOf(org));
    return org;
  }

  /** The settings of an org's lock and approvals; null for an alias never registered. */
  async orgSettings(alias: string): Promise<OrgSettings | null> {
    return this.orgs.settings(alias);
  }

  async listOrgs(): Promise<Org[]> {
    this.tokens.project();
    return this.orgs.list();
  }

  // ---- task index and feed

  /**
   * Called (through the TaskActor's outbox) on every status change; stale or repeated calls are no-ops.
   * Only the task's summary is kept and broadcast, so callers may send either the task or its summary.
   */
  async taskChanged(task: TaskSummary): Promise<void> {
    const known = this.indexed(task.id);
    const summary = this.index.put(task);
    if (summary) for (const p of countTaskChange(this.env, summary, known)) this.ctx.waitUntil(p);
    if (summary) this.feed.broadcast([summary]);
    if (summary) this.notifier.tasksChanged([summary]);
    if (isTerminal(task.status)) this.watches.taskFinished(task.id);
  }

  /** The same for a batch (from an ingest shard's hand-off): one commit for all of them. */
  async tasksChanged(tasks: TaskSummary[]): Promise<void> {
    const changed = tasks.flatMap((t) => {
      const known = this.indexed(t.id);
      const summary = this.index.put(t);
      if (summary) for (const p of countTaskChange(this.env, summary, known)) this.ctx.waitUntil(p);
      return summary ?? [];
    });
    this.feed.broadcast(changed);
    this.notifier.tasksChanged(changed);
  }

  /** Whether the index holds the task yet (a task it did not is counted as created). */
  private indexed(taskId: string): boolean {
    return this.ctx.storage.sql.exec("SELECT 1 FROM sfp_tasks WHERE id = ?", taskId).toArray().length > 0;
  }

  async listTasks(opts: TaskListQuery): Promise<TaskList> {
    this.tokens.project();
    return this.index.list(opts);
  }

  // ---- Idempotency-Key

  async claimIdempotencyKey(key: string, bodyHash: string, taskId: string): Promise<string> {
    return this.idempotency.claim(key, bodyHash, taskId);
  }

  // ---- WebSocket tickets

  async issueTicket(tokenId: string, role: Role): Promise<{ ticket: string; expiresAt: string }> {
    return this.tickets.issue(this.tokens.project().id, tokenId, role);
  }

  /** The token id a ticket stands for, the first time it is used and while that token lives; else null. */
  async consumeTicket(id: string): Promise<string | null> {
    return this.tickets.consume(id);
  }

  // ---- webhook sources

  /** `origin`: how the owner reached the edge, for the dashboard links of commit statuses. */
  async putWebhookSource(name: string, body: PutWebhookSourceBody, origin = ""): Promise<WebhookSource> {
    const project = this.tokens.project().id;
    this.statusTokens.check(body.kind, body);
    await this.sources.put(project, name, body);
    await this.statusTokens.put(name, body, origin);
    return this.withStatus(this.sources.get(name));
  }

  async getWebhookSource(name: string): Promise<WebhookSource> {
    this.tokens.project();
    return this.withStatus(this.sources.get(name));
  }

  async listWebhookSources(): Promise<WebhookSource[]> {
    this.tokens.project();
    return this.sources.list().map((s) => this.withStatus(s));
  }

  /** A github/gitlab source as owners see it: whether a status token is set, and its last refusal. */
  private withStatus(source: WebhookSource): WebhookSource {
    return source.kind === "github" || source.kind === "gitlab" ? { ...source, commitStatus: this.statusTokens.report(source.name) } : source;
  }

  /** A new id (and URL) for the source; the old id is answered so the edge can forget it. */
  async rotateWebhookSource(name: string): Promise<{ source: WebhookSource; previousId: string }> {
    return this.sources.rotate(this.tokens.project().id, name);
  }

  /** Deletes the source and answers its id, so the edge can forget its cached copy. */
  async deleteWebhookSource(name: string): Promise<string> {
    this.tokens.project();
    this.events.checkSourceUnused(name);
    const id = this.sources.delete(name);
    this.statusTokens.delete(name);
    return id;
  }

  /** The delivery path's lookup, secret included (edge only); null for an unknown id or project. */
  async webhookSourceById(id: string): Promise<WebhookSourceRecord | null> {
    const project = this.tokens.find();
    return project ? this.sources.byId(project.id, id) : null;
  }

  // ---- runner registration

  async createRegistrationToken(body: CreateRegistrationTokenBody, now = Date.now()): Promise<{ token: string; expiresAt: string }> {
    return this.runners.createToken(this.tokens.project().id, body, now);
  }

  async redeemRegistrationToken(id: string, hash: string, runnerId: string, labels: string[] = []): Promise<{ pool: string; labels: string[] }> {
    return this.runners.redeem(id, hash, runnerId, labels);
  }

  async runnerPools(): Promise<string[]> {
    this.tokens.project();
    return this.runners.pools();
  }

  async runnerPool(runnerId: string): Promise<string> {
    this.tokens.project();
    return this.runners.poolOf(runnerId);
  }

  async runnerRevoked(runnerId: string): Promise<void> {
    this.runners.revoked(runnerId);
    this.events.runnerRevoked(runnerId);
  }

  // ---- Platform Event subscriptions (project-events.ts)

  async putEventSubscription(name: string, body: PutEventSubscriptionBody): Promise<EventSubscription> {
    return this.events.put(name, body);
  }

  async getEventSubscription(name: string): Promise<EventSubscription> {
    return this.events.get(name);
  }

  async listEventSubscriptions(): Promise<EventSubscription[]> {
    return this.events.list();
  }

  async deleteEventSubscription(name: string): Promise<void> {
    this.events.delete(name);
  }

  async leaseEventSubscriptions(runnerId: string, pool: string, body: SubscriptionLeaseBody, leaseSeconds: number): Promise<SubscriptionLease[]> {
    return this.events.lease(runnerId, pool, body, leaseSeconds);
  }

  async eventDeliveryTarget(name: string, runnerId: string, epoch: number): Promise<{ subscription: EventSubscription; source: WebhookSourceRecord }> {
    return this.events.deliveryTarget(name, runnerId, epoch);
  }

  async eventsForwarded(name: string, runnerId: string, epoch: number, replayId: number): Promise<number> {
    return this.events.forwarded(name, runnerId, epoch, replayId);
  }

  // ---- notification endpoints (notifier.ts)

  async putNotificationEndpoint(name: string, body: PutNotificationEndpointBody, origin: string): Promise<NotificationEndpointAnswer> {
    this.tokens.project();
    return this.notifier.endpoints.put(name, body, origin);
  }

  async getNotificationEndpoint(name: string): Promise<NotificationEndpoint> {
    this.tokens.project();
    return this.notifier.endpoints.get(name);
  }

  async listNotificationEndpoints(): Promise<NotificationEndpoint[]> {
    this.tokens.project();
    return this.notifier.endpoints.list();
  }

  async deleteNotificationEndpoint(name: string): Promise<void> {
    this.tokens.project();
    this.notifier.endpoints.delete(name);
    this.notifier.schedule();
  }

  async rotateNotificationSecret(name: string): Promise<NotificationEndpointAnswer> {
    this.tokens.project();
    return this.notifier.endpoints.rotate(name);
  }

  async listNotificationDeliveries(name: string, limit: number): Promise<NotificationDelivery[]> {
    this.tokens.project();
    this.notifier.endpoints.mustRow(name);
    return this.notifier.deliveries.list(name, limit);
  }

  /** Sends the delivery again (same webhook-id), from the start of the schedule; 409 while the endpoint is disabled. */
  async redeliverNotification(name: string, id: string): Promise<NotificationDelivery> {
    this.tokens.project();
    if (!this.notifier.endpoints.mustRow(name).enabled) throw rpcError("conflict", "the endpoint is disabled; PUT it with enabled: true first");
    const delivery = this.notifier.deliveries.redeliver(name, id, Date.now());
    this.notifier.kick();
    return delivery;
  }

  override async alarm(): Promise<void> {
    for (const name of this.timers.takeDue(Date.now())) if (name === NOTIFY_TIMER) await this.notifier.run();
    this.notifier.schedule();
  }

  // ---- the project feed (hibernating WebSockets)

  override async fetch(request: Request): Promise<Response> {
    return this.feed.connect(
      request,
      () => this.tokens.project().id,
      (tokenId) => this.tokens.isLive(tokenId),
    );
  }

  override async webSocketMessage(ws: WebSocket, message: string | ArrayBuffer): Promise<void> {
    this.feed.message(ws, message);
  }

  /** A runner's load from its heartbeat, to the feed (rate-limited per runner there); true when it went out. */
  async runnerLoad(load: RunnerLoad): Promise<boolean> {
    return this.feed.runner(load);
  }

  override async webSocketClose(ws: WebSocket, code: number): Promise<void> {
    this.ctx.waitUntil(count(this.env, "sfp_sockets_closed_total", { kind: "project" }));
    this.feed.closed(ws, code);
  }
}
