// One OrgActor per (project, org): the org's lock. Tasks that change an org (protocol ORG_LOCK_TYPES)
// ask it for the lock before any runner is offered them; it grants the lock to at most the org's
// `maxConcurrentDeploys` tasks at a time, in priority then arrival order, tells each waiting task
// where it stands, and sends a task to a protected org back for approval first. The lock belongs to
// the task, not to a runner: only the task's own terminal state (or cancel) gives it back. Every
// notice to a task goes through this actor's durable outbox, committed with the change that causes it.
import { DurableObject } from "cloudflare:workers";
import { log } from "../common/log.ts";
import { rpcError, WEBHOOK_DELIVERY_MEMORY_SECONDS, type OrgSettings } from "../protocol/index.ts";
import { projectStub, taskStub, type Env } from "./env.ts";
import { LEFT_AGE_INDEX, LEFT_TABLE, LINE_ORDER_INDEX, LINE_TABLE, OrgLine, RETELL_MS, type LineNotice, type LockRequest } from "./org-line.ts";
import { Outbox, OUTBOX_TABLE, type OutboxMessage, type Senders } from "./outbox.ts";
import { migrate } from "./sql.ts";
import { Timers, TIMERS_TABLE } from "./timers.ts";

const MIGRATIONS = [
  ["CREATE TABLE sfp_settings (id INTEGER PRIMARY KEY CHECK (id = 1), body TEXT NOT NULL)", LINE_TABLE, OUTBOX_TABLE, TIMERS_TABLE],
  [LINE_ORDER_INDEX, LEFT_TABLE, LEFT_AGE_INDEX],
] as const;
/** The timer of the pass that re-tells waiters past the exact places (OrgLine.retell). */
const RETELL_TIMER = "retell";

/** How long a task that left is kept out of the line (a retried ingest hand-off may ask for it later). */
const LEFT_MEMORY_MS = WEBHOOK_DELIVERY_MEMORY_SECONDS * 1000;

/** Where a task an ingest shard asked for stands, when it waits (the shard records it in the task). */
export interface LinePlace {
  position: number;
  holder: string | null;
}

/** What the org actor tells a task (TaskActor.orgNotice). */
export type OrgNotice = LineNotice | { kind: "approval"; taskId: string; timeoutSeconds: number };

interface OrgMessageBodies {
  notice: { project: string; notice: OrgNotice };
}

interface StoredSettings extends OrgSettings {
  project: string;
  org: string;
}

function orgSenders(env: Env): Senders<OrgMessageBodies> {
  return { notice: (m) => taskStub(env, m.notice.taskId).orgNotice(m.project, m.notice) };
}

export class OrgActor extends DurableObject<Env> {
  private readonly timers: Timers;
  private readonly line: OrgLine;
  private readonly outbox: Outbox<OrgMessageBodies>;
  /** sfp_settings as last read or written; undefined until first read. */
  private cached: StoredSettings | null | undefined;

  constructor(ctx: DurableObjectState, env: Env) {
    super(ctx, env);
    this.timers = new Timers(ctx.storage);
    this.line = new OrgLine(ctx.storage.sql);
    this.outbox = new Outbox(ctx.storage, this.timers, orgSenders(env), { logFields: () => ({ actor: "org", org: this.ctx.id.name }) });
    ctx.blockConcurrencyWhile(async () => {
      migrate(ctx.storage.sql, MIGRATIONS);
      this.outbox.resume();
    });
  }

  /** The org's settings changed (ProjectActor.putOrg): a higher limit lets waiting tasks in at once. */
  async configure(project: string, org: string, settings: OrgSettings): Promise<void> {
    const known = this.settings();
    if (known && known.updatedAt > settings.updatedAt) return;
    this.store({ ...settings, project, org });
    this.pump();
    await this.outbox.flush();
  }

  /**
   * A task asks for the lock (through its outbox, so possibly more than once). A task already in
   * line is told again where it stands; a task to a protected org that no approver let through is
   * sent back for approval and does not join; a task that already left (ended) is ignored. The answer
   * waits until the task has been told.
   */
  async request(req: LockRequest): Promise<void> {
    const settings = this.settings() ?? (await this.fetchSettings(req.project, req.org));
    this.pump(this.ask(req, settings));
    await this.outbox.flush();
  }

  /**
   * An ingest shard's batch of new webhook tasks of this org, none of whose actors has started: one
   * call and one commit for the lot. Grants and approvals go to the tasks' actors as usual; a task
   * that waits is not told here but answered, so the shard records its place in the task it still
   * holds and no task actor starts until the line moves it.
   */
  async requestMany(project: string, org: string, reqs: LockRequest[]): Promise<Record<string, LinePlace>> {
    const settings = this.settings() ?? (await this.fetchSettings(project, org));
    const asked = reqs.flatMap((req) => this.ask(req, settings));
    const places: Record<string, LinePlace> = {};
    const batch = new Set(reqs.map((r) => r.taskId));
    const notices = this.pumped(asked).filter((n) => {
      if (n.kind !== "waiting" || !batch.has(n.taskId)) return true;
      places[n.taskId] = { position: n.position, holder: n.holder };
      return false;
    });
    this.send(notices, project);
    await this.outbox.flush();
    return places;
  }

  /** Files one request; the ids of tasks the next pump must tell where they stand. */
  private ask(req: LockRequest, settings: StoredSettings): string[] {
    const state = this.line.state(req.taskId);
    if (state === "holding") {
      this.send([{ kind: "granted", taskId: req.taskId }], req.project);
      return [];
    }
    if (state === "waiting") {
      this.line.forgetTold(req.taskId);
      return [req.taskId];
    }
    if (this.line.hasLeft(req.taskId)) return [];
    if (settings.protected && !req.approved) {
      this.send([{ kind: "approval", taskId: req.taskId, timeoutSeconds: settings.approvalTimeoutSeconds }], req.project);
      return [];
    }
    if (!this.line.join(req) && this.line.hasDeep()) this.retellSoon();
    return [req.taskId];
  }

  /** The task ended or was canceled: it leaves the line, and the lock passes on. */
  async release(taskId: string): Promise<void> {
    const now = Date.now();
    this.line.pruneLeft(now - LEFT_MEMORY_MS);
    const was = this.line.leave(taskId, now);
    if (was === "waiting" && this.line.hasDeep()) this.retellSoon();
    if (was) this.pump();
    await this.outbox.flush();
  }

  /** The line as it stands, holders first. */
  async status(): Promise<{ settings: OrgSettings | null; line: { taskId: string; holding: boolean }[] }> {
    return { settings: this.settings(), line: this.line.list() };
  }

  /** Grants what can be granted and tells who must be told; `tell` asked just now. */
  private pump(tell: readonly string[] = []): void {
    const settings = this.settings();
    if (settings) this.send(this.pumped(tell), settings.project);
  }

  private pumped(tell: readonly string[]): OrgNotice[] {
    const settings = this.settings();
    if (!settings) return [];
    const { notices, deepMoved } = this.line.pump(settings.maxConcurrentDeploys, Date.now(), tell);
    if (deepMoved) this.retellSoon();
    return notices;
  }

  /** Waiters past the exact places moved: the re-telling pass runs within RETELL_MS. */
  private retellSoon(): void {
    if (this.timers.get(RETELL_TIMER) !== null) return;
    this.timers.set(RETELL_TIMER, Date.now() + RETELL_MS);
    // Issued before this yields, so the alarm joins the commit of the timer it serves.
    this.timers.arm().catch((err: unknown) => log("error", "could not arm the retell timer", { actor: "org", error: String(err) }));
  }

  private send(notices: OrgNotice[], project: string): void {
    const messages: OutboxMessage<OrgMessageBodies>[] = notices.map((notice) => ({ kind: "notice", body: { project, notice } }));
    this.outbox.add(messages);
  }

  /** The stored settings, read once per actor life: a batch asks for them several times (B1's profile). */
  private settings(): StoredSettings | null {
    if (this.cached === undefined) {
      const row = this.ctx.storage.sql.exec<{ body: string }>("SELECT body FROM sfp_settings WHERE id = 1").toArray()[0];
      this.cached = row ? (JSON.parse(row.body) as StoredSettings) : null;
    }
    return this.cached;
  }

  private store(settings: StoredSettings): void {
    this.cached = settings;
    this.ctx.storage.sql.exec("INSERT INTO sfp_settings (id, body) VALUES (1, ?) ON CONFLICT(id) DO UPDATE SET body = excluded.body", JSON.stringify(settings));
  }

  /** An org registered before this actor existed (or whose configure was lost) is read from its project once. */
  private async fetchSettings(project: string, org: string): Promise<StoredSettings> {
    const fetched = await projectStub(this.env, project).orgSettings(org);
    if (!fetched) throw rpcError("invalid_request", `org: unknown org alias "${org}"`);
    const known = this.settings();
    if (known && known.updatedAt >= fetched.updatedAt) return known;
    const settings = { ...fetched, project, org };
    this.store(settings);
    return settings;
  }

  override async alarm(): Promise<void> {
    for (const name of this.timers.takeDue(Date.now())) {
      if (name === RETELL_TIMER) {
        const settings = this.settings();
        if (settings) this.send(this.line.retell(), settings.project);
        await this.outbox.flush();
      }
      if (name === this.outbox.timer) await this.outbox.flush();
    }
    await this.timers.arm();
  }
}
