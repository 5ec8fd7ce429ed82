// One ProjectActor per project: its tokens (hashes only) and their revocations, org metadata, the
// task index behind the list endpoint, Idempotency-Keys, WebSocket tickets, and the project feed —
// hibernating sockets that see every task's status changes.
import { DurableObject } from "cloudflare:workers";
import { sha256Hex, signToken } from "../common/tokens.ts";
import type { Env } from "./env.ts";
import {
  newId,
  rpcError,
  type CreateRegistrationTokenBody,
  type CreateTokenBody,
  type Org,
  type Project,
  type PutOrgBody,
  type Role,
  type ServerMessage,
  type Task,
  type TaskList,
  type TaskStatus,
  type TokenInfo,
} from "../protocol/index.ts";
import { DEFAULT_POOL } from "../protocol/task.ts";
import { isGenuineSourceId, mintSourceId } from "../common/source-ids.ts";
import { hookUrl, type PutWebhookSourceBody, type WebhookKind, type WebhookRule, type WebhookSource, type WebhookSourceRecord } from "../protocol/webhook.ts";
import { migrate, nowIso } from "./sql.ts";
import { accept, FORWARD_PROJECT_HEADER, isUpgrade, send, sendText } from "./sockets.ts";

const MIGRATIONS = [
  [
    "CREATE TABLE sfp_project (id TEXT PRIMARY KEY, name TEXT NOT NULL, created_at TEXT NOT NULL)",
    `CREATE TABLE sfp_tokens (id TEXT PRIMARY KEY, name TEXT NOT NULL, role TEXT NOT NULL, hash TEXT NOT NULL,
       created_at TEXT NOT NULL, expires_at TEXT, revoked_at TEXT)`,
    `CREATE TABLE sfp_orgs (alias TEXT PRIMARY KEY, pool TEXT NOT NULL, org_id TEXT, instance_url TEXT,
       is_production INTEGER NOT NULL, updated_at TEXT NOT NULL)`,
    // The task index: one row per task, as of its last status change (the TaskActor is authoritative).
    `CREATE TABLE sfp_tasks (id TEXT PRIMARY KEY, created_at TEXT NOT NULL, status TEXT NOT NULL,
       version INTEGER NOT NULL, body TEXT NOT NULL)`,
    "CREATE INDEX sfp_tasks_by_time ON sfp_tasks (created_at DESC, id DESC)",
    "CREATE TABLE sfp_idempotency (key TEXT PRIMARY KEY, body_hash TEXT NOT NULL, task_id TEXT NOT NULL, expires_at INTEGER NOT NULL)",
    "CREATE TABLE sfp_tickets (id TEXT PRIMARY KEY, expires_at INTEGER NOT NULL)",
  ],
  // webhook sources: the secret is stored so the edge can verify deliveries; no API returns it.
  [
    `CREATE TABLE sfp_webhook_sources (name TEXT PRIMARY KEY, id TEXT NOT NULL UNIQUE, kind TEXT NOT NULL, secret TEXT,
       org_id TEXT, rules TEXT NOT NULL, created_at TEXT NOT NULL, updated_at TEXT NOT NULL)`,
  ],
  // runner registration (issue 4): registration tokens as hashes with their remaining uses, and the
  // runners the project has seen with their pool, so owners can list and revoke across pools.
  [
    `CREATE TABLE sfp_registration_tokens (id TEXT PRIMARY KEY, hash TEXT NOT NULL, pool TEXT NOT NULL, labels TEXT NOT NULL,
       uses_left INTEGER NOT NULL, expires_at INTEGER NOT NULL, created_at TEXT NOT NULL)`,
    "CREATE TABLE sfp_runner_index (id TEXT PRIMARY KEY, pool TEXT NOT NULL, registered_at TEXT NOT NULL, revoked_at TEXT)",
  ],
] as const;

const IDEMPOTENCY_TTL_MS = 24 * 3600 * 1000;
const REGISTRATION_TOKEN_TTL_SECONDS = 3600;
const TICKET_TTL_MS = 60 * 1000;
const MAX_LIST = 200;

export interface ProjectView {
  revoked: string[];
  orgs: Record<string, { pool: string }>;
}

export class ProjectActor extends DurableObject<Env> {
  constructor(ctx: DurableObjectState, env: Env) {
    super(ctx, env);
    ctx.setWebSocketAutoResponse(new WebSocketRequestResponsePair("ping", "pong"));
    ctx.blockConcurrencyWhile(async () => migrate(ctx.storage.sql, MIGRATIONS));
  }

  private get sql(): SqlStorage {
    return this.ctx.storage.sql;
  }

  private project(): Project {
    const row = this.sql.exec<{ id: string; name: string; created_at: string }>("SELECT * FROM sfp_project").toArray()[0];
    if (!row) throw rpcError("not_found", "no such project");
    return { id: row.id, name: row.name, createdAt: row.created_at };
  }

  // ---- project and tokens -----------------------------------------------------------------------

  async init(id: string, name: string): Promise<{ project: Project; ownerToken: string }> {
    if (this.sql.exec("SELECT id FROM sfp_project").toArray().length) throw rpcError("conflict", "project already exists");
    this.sql.exec("INSERT INTO sfp_project (id, name, created_at) VALUES (?, ?, ?)", id, name, nowIso());
    const owner = await this.createToken({ name: "owner", role: "owner" });
    return { project: this.project(), ownerToken: owner.token };
  }

  async info(): Promise<Project> {
    return this.project();
  }

  async createToken(body: CreateTokenBody): Promise<{ id: string; token: string; role: Role; expiresAt: string | null }> {
    const project = this.project();
    const id = newId("tok");
    const expiresMs = body.expiresInDays ? Date.now() + body.expiresInDays * 86_400_000 : 0;
    const token = await signToken(this.env.TOKEN_SIGNING_KEY, { k: "api", id, p: project.id, r: body.role, e: Math.floor(expiresMs / 1000) });
    const expiresAt = expiresMs ? nowIso(expiresMs) : null;
    this.sql.exec(
      "INSERT INTO sfp_tokens (id, name, role, hash, created_at, expires_at) VALUES (?, ?, ?, ?, ?, ?)",
      id,
      body.name,
      body.role,
      await sha256Hex(token),
      nowIso(),
      expiresAt,
    );
    return { id, token, role: body.role, expiresAt };
  }

  async listTokens(): Promise<TokenInfo[]> {
    this.project();
    return this.sql
      .exec<{ id: string; name: string; role: Role; created_at: string; expires_at: string | null; revoked_at: string | null }>(
        "SELECT id, name, role, created_at, expires_at, revoked_at FROM sfp_tokens ORDER BY created_at",
      )
      .toArray()
      .map((r) => ({ id: r.id, name: r.name, role: r.role, createdAt: r.created_at, expiresAt: r.expires_at, revokedAt: r.revoked_at }));
  }

  async revokeToken(id: string): Promise<void> {
    this.project();
    const row = this.sql.exec<{ revoked_at: string | null }>("SELECT revoked_at FROM sfp_tokens WHERE id = ?", id).toArray()[0];
    if (!row) throw rpcError("not_found", "no such token");
    if (!row.revoked_at) this.sql.exec("UPDATE sfp_tokens SET revoked_at = ? WHERE id = ?", nowIso(), id);
  }

  /** What every edge caches for a short while: revoked token ids and the orgs' pools. */
  async view(): Promise<ProjectView> {
    this.project();
    const revoked = this.sql
      .exec<{ id: string }>("SELECT id FROM sfp_tokens WHERE revoked_at IS NOT NULL")
      .toArray()
      .map((r) => r.id);
    const orgs: ProjectView["orgs"] = {};
    for (const r of this.sql.exec<{ alias: string; pool: string }>("SELECT alias, pool FROM sfp_orgs")) orgs[r.alias] = { pool: r.pool };
    return { revoked, orgs };
  }

  // ---- orgs (metadata only: credentials never pass through the edge) ----------------------------

  async putOrg(alias: string, body: PutOrgBody): Promise<Org> {
    this.project();
    const old = this.orgRow(alias);
    const org: Org = {
      alias,
      pool: body.pool ?? old?.pool ?? DEFAULT_POOL,
      orgId: body.orgId ?? old?.orgId ?? null,
      instanceUrl: body.instanceUrl ?? old?.instanceUrl ?? null,
      isProduction: body.isProduction ?? old?.isProduction ?? false,
      updatedAt: nowIso(),
    };
    this.sql.exec(
      `INSERT INTO sfp_orgs (alias, pool, org_id, instance_url, is_production, updated_at) VALUES (?, ?, ?, ?, ?, ?)
       ON CONFLICT(alias) DO UPDATE SET pool = excluded.pool, org_id = excluded.org_id, instance_url = excluded.instance_url,
       is_production = excluded.is_production, updated_at = excluded.updated_at`,
      org.alias,
      org.pool,
      org.orgId,
      org.instanceUrl,
      org.isProduction ? 1 : 0,
      org.updatedAt,
    );
    return org;
  }

  async listOrgs(): Promise<Org[]> {
    this.project();
    return this.sql.exec<OrgRow>("SELECT * FROM sfp_orgs ORDER BY alias").toArray().map(orgFromRow);
  }

  private orgRow(alias: string): Org | null {
    const row = this.sql.exec<OrgRow>("SELECT * FROM sfp_orgs WHERE alias = ?", alias).toArray()[0];
    return row ? orgFromRow(row) : null;
  }

  // ---- task index and feed ----------------------------------------------------------------------

  /** Called (through the TaskActor's outbox) on every status change; stale or repeated calls are no-ops. */
  async taskChanged(task: Task): Promise<void> {
    if (this.index(task)) this.broadcast([task]);
  }

  /** The same for a batch (from an ingest shard's hand-off): one commit for all of them. */
  async tasksChanged(tasks: Task[]): Promise<void> {
    this.broadcast(tasks.filter((t) => this.index(t)));
  }

  /** Each task to every feed socket, serialized once. */
  private broadcast(tasks: Task[]): void {
    const sockets = this.ctx.getWebSockets();
    if (!sockets.length || !tasks.length) return;
    const texts = tasks.map((task) => JSON.stringify({ type: "task", task } satisfies ServerMessage));
    for (const ws of sockets) for (const text of texts) sendText(ws, text);
  }

  /** Stores the task in the index unless a newer version is there; true when it did. */
  private index(task: Task): boolean {
    return (
      this.sql.exec(
        `INSERT INTO sfp_tasks (id, created_at, status, version, body) VALUES (?, ?, ?, ?, ?)
         ON CONFLICT(id) DO UPDATE SET status = excluded.status, version = excluded.version, body = excluded.body
         WHERE excluded.version > sfp_tasks.version`,
        task.id,
        task.createdAt,
        task.status,
        task.version,
        JSON.stringify(task),
      ).rowsWritten > 0
    );
  }

  /** Newest first; the cursor is the (createdAt, id) of the last task returned. */
  async listTasks(opts: { status?: TaskStatus; limit: number; cursor?: string }): Promise<TaskList> {
    this.project();
    const limit = Math.max(1, Math.min(opts.limit, MAX_LIST));
    const where: string[] = [];
    const args: (string | number)[] = [];
    if (opts.status) {
      where.push("status = ?");
      args.push(opts.status);
    }
    if (opts.cursor) {
      const [at, id] = decodeCursor(opts.cursor);
      where.push("(created_at < ? OR (created_at = ? AND id < ?))");
      args.push(at, at, id);
    }
    const rows = this.sql
      .exec<{ id: string; created_at: string; body: string }>(
        `SELECT id, created_at, body FROM sfp_tasks ${where.length ? `WHERE ${where.join(" AND ")}` : ""}
         ORDER BY created_at DESC, id DESC LIMIT ?`,
        ...args,
        limit + 1,
      )
      .toArray();
    const page = rows.slice(0, limit);
    const last = page[page.length - 1];
    return {
      tasks: page.map((r) => JSON.parse(r.body) as Task),
      cursor: rows.length > limit && last ? encodeCursor(last.created_at, last.id) : null,
    };
  }

  // ---- Idempotency-Key --------------------------------------------------------------------------

  /**
   * Claims `key` for a task id, or answers the id it already names (24 h). The same key with a
   * different request body is a conflict rather than a silent reuse.
   */
  async claimIdempotencyKey(key: string, bodyHash: string, taskId: string): Promise<string> {
    const now = Date.now();
    this.sql.exec("DELETE FROM sfp_idempotency WHERE expires_at <= ?", now);
    const row = this.sql.exec<{ body_hash: string; task_id: string }>("SELECT body_hash, task_id FROM sfp_idempotency WHERE key = ?", key).toArray()[0];
    if (row) {
      if (row.body_hash !== bodyHash) throw rpcError("conflict", "Idempotency-Key was already used with a different request body");
      return row.task_id;
    }
    this.sql.exec("INSERT INTO sfp_idempotency (key, body_hash, task_id, expires_at) VALUES (?, ?, ?, ?)", key, bodyHash, taskId, now + IDEMPOTENCY_TTL_MS);
    return taskId;
  }

  // ---- WebSocket tickets (single use, 60 s) -----------------------------------------------------

  async issueTicket(tokenId: string, role: Role): Promise<{ ticket: string; expiresAt: string }> {
    const project = this.project();
    const id = newId("wst");
    const expires = Date.now() + TICKET_TTL_MS;
    this.sql.exec("INSERT INTO sfp_tickets (id, expires_at) VALUES (?, ?)", id, expires);
    const ticket = await signToken(this.env.TOKEN_SIGNING_KEY, { k: "wst", id, p: project.id, tok: tokenId, r: role, e: Math.floor(expires / 1000) });
    return { ticket, expiresAt: nowIso(expires) };
  }

  /** True the first time a live ticket is used, false ever after. */
  async consumeTicket(id: string): Promise<boolean> {
    const now = Date.now();
    this.sql.exec("DELETE FROM sfp_tickets WHERE expires_at <= ?", now);
    const row = this.sql.exec("SELECT id FROM sfp_tickets WHERE id = ?", id).toArray()[0];
    if (!row) return false;
    this.sql.exec("DELETE FROM sfp_tickets WHERE id = ?", id);
    return true;
  }

  // ---- webhook sources (issue 3): config the edge caches; secrets leave only toward the edge ------

  /**
   * Creates or replaces the source called `name`. Its id (and so its URL) survives replacement,
   * unless the signing key was rotated since it was minted: then it gets a new, valid one.
   */
  async putWebhookSource(name: string, body: PutWebhookSourceBody): Promise<WebhookSource> {
    const project = this.project();
    const old = this.webhookRows("WHERE name = ?", name)[0];
    const keep = old && (await isGenuineSourceId(this.env.TOKEN_SIGNING_KEY, old.id));
    const id = keep ? old.id : await mintSourceId(this.env.TOKEN_SIGNING_KEY, project.id);
    const at = nowIso();
    this.sql.exec(
      `INSERT INTO sfp_webhook_sources (name, id, kind, secret, org_id, rules, created_at, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?)
       ON CONFLICT(name) DO UPDATE SET id = excluded.id, kind = excluded.kind, secret = excluded.secret, org_id = excluded.org_id,
       rules = excluded.rules, updated_at = excluded.updated_at`,
      name,
      id,
      body.kind,
      body.secret ?? null,
      body.orgId ?? null,
      JSON.stringify(body.rules),
      old?.created_at ?? at,
      at,
    );
    return webhookSourceFromRow(this.webhookRows("WHERE name = ?", name)[0]);
  }

  async getWebhookSource(name: string): Promise<WebhookSource> {
    this.project();
    const row = this.webhookRows("WHERE name = ?", name)[0];
    if (!row) throw rpcError("not_found", "no such webhook source");
    return webhookSourceFromRow(row);
  }

  async listWebhookSources(): Promise<WebhookSource[]> {
    this.project();
    return this.webhookRows("ORDER BY name").map(webhookSourceFromRow);
  }

  /** Deletes the source and answers its id, so the edge can forget its cached copy. */
  async deleteWebhookSource(name: string): Promise<string> {
    this.project();
    const row = this.webhookRows("WHERE name = ?", name)[0];
    if (!row) throw rpcError("not_found", "no such webhook source");
    this.sql.exec("DELETE FROM sfp_webhook_sources WHERE name = ?", name);
    return row.id;
  }

  /** The delivery path's lookup, secret included (edge only); null for an unknown id. */
  async webhookSourceById(id: string): Promise<WebhookSourceRecord | null> {
    const project = this.sql.exec<{ id: string }>("SELECT id FROM sfp_project").toArray()[0];
    const row = project ? this.webhookRows("WHERE id = ?", id)[0] : undefined;
    if (!project || !row) return null;
    return { ...webhookSourceFromRow(row), project: project.id, secret: row.secret };
  }

  private webhookRows(clause: string, ...args: string[]): WebhookSourceRow[] {
    return this.sql.exec<WebhookSourceRow>(`SELECT * FROM sfp_webhook_sources ${clause}`, ...args).toArray();
  }

  // ---- runner registration (issue 4) ----------------------------------------------------------------

  /** A registration token for `pool`: signed (so a forged one costs no lookup), stored as a hash. */
  async createRegistrationToken(body: CreateRegistrationTokenBody, now = Date.now()): Promise<{ token: string; expiresAt: string }> {
    const project = this.project();
    const id = newId("rtk");
    const expires = now + (body.expiresInSeconds ?? REGISTRATION_TOKEN_TTL_SECONDS) * 1000;
    const token = await signToken(this.env.TOKEN_SIGNING_KEY, { k: "reg", id, p: project.id, pool: body.pool, e: Math.floor(expires / 1000) });
    this.sql.exec(
      "INSERT INTO sfp_registration_tokens (id, hash, pool, labels, uses_left, expires_at, created_at) VALUES (?, ?, ?, ?, ?, ?, ?)",
      id,
      await sha256Hex(token),
      body.pool,
      JSON.stringify(body.labels ?? []),
      body.uses ?? 1,
      expires,
      nowIso(now),
    );
    return { token, expiresAt: nowIso(expires) };
  }

  /**
   * Spends one use of a registration token and records the runner it registers. Used up, expired or
   * unknown tokens are all "unauthenticated": the caller learns nothing about which.
   */
  async redeemRegistrationToken(id: string, hash: string, runnerId: string): Promise<{ pool: string; labels: string[] }> {
    const now = Date.now();
    const row = this.sql
      .exec<{ hash: string; pool: string; labels: string; uses_left: number; expires_at: number }>(
        "SELECT hash, pool, labels, uses_left, expires_at FROM sfp_registration_tokens WHERE id = ?",
        id,
      )
      .toArray()[0];
    if (!row || row.hash !== hash || row.uses_left <= 0 || row.expires_at <= now) {
      throw rpcError("unauthenticated", "the registration token is invalid, used up or expired");
    }
    this.sql.exec("UPDATE sfp_registration_tokens SET uses_left = uses_left - 1 WHERE id = ?", id);
    this.sql.exec("DELETE FROM sfp_registration_tokens WHERE uses_left <= 0 OR expires_at <= ?", now);
    this.sql.exec("INSERT INTO sfp_runner_index (id, pool, registered_at) VALUES (?, ?, ?)", runnerId, row.pool, nowIso(now));
    return { pool: row.pool, labels: JSON.parse(row.labels) as string[] };
  }

  /** The pools that have (or had) runners, for listing runners across pools. */
  async runnerPools(): Promise<string[]> {
    this.project();
    return this.sql
      .exec<{ pool: string }>("SELECT DISTINCT pool FROM sfp_runner_index WHERE revoked_at IS NULL ORDER BY pool")
      .toArray()
      .map((r) => r.pool);
  }

  /** The pool of a runner that is not revoked; 404 otherwise. */
  async runnerPool(runnerId: string): Promise<string> {
    this.project();
    const row = this.sql.exec<{ pool: string }>("SELECT pool FROM sfp_runner_index WHERE id = ? AND revoked_at IS NULL", runnerId).toArray()[0];
    if (!row) throw rpcError("not_found", "no such runner");
    return row.pool;
  }

  async runnerRevoked(runnerId: string): Promise<void> {
    this.sql.exec("UPDATE sfp_runner_index SET revoked_at = ? WHERE id = ? AND revoked_at IS NULL", nowIso(), runnerId);
  }

  // ---- the project feed (hibernating WebSockets) ------------------------------------------------

  override async fetch(request: Request): Promise<Response> {
    if (!isUpgrade(request)) return new Response("expected a WebSocket upgrade", { status: 426 });
    const project = this.project();
    if (request.headers.get(FORWARD_PROJECT_HEADER) !== project.id) {
      return Response.json({ error: { code: "not_found", message: "no such project", requestId: "" } }, { status: 404 });
    }
    const res = accept(this.ctx, { project: project.id, floorSeq: 0 }, ["project"]);
    send(res.socket, { type: "hello", project: project.id, version: 0, lastSeq: 0 });
    return res;
  }

  override async webSocketMessage(ws: WebSocket): Promise<void> {
    send(ws, { type: "error", error: { code: "invalid_request", message: 'the project feed takes no messages but the text "ping"' } });
  }

  override async webSocketClose(ws: WebSocket, code: number): Promise<void> {
    try {
      ws.close(code === 1005 ? 1000 : code, "closing");
    } catch {
      // already closed
    }
  }
}

type OrgRow = {
  alias: string;
  pool: string;
  org_id: string | null;
  instance_url: string | null;
  is_production: number;
  updated_at: string;
};

type WebhookSourceRow = {
  name: string;
  id: string;
  kind: WebhookKind;
  secret: string | null;
  org_id: string | null;
  rules: string;
  created_at: string;
  updated_at: string;
};

function webhookSourceFromRow(r: WebhookSourceRow): WebhookSource {
  const rules = JSON.parse(r.rules) as WebhookRule[];
  return { id: r.id, name: r.name, url: hookUrl(r.id), kind: r.kind, orgId: r.org_id, rules, createdAt: r.created_at, updatedAt: r.updated_at };
}

function orgFromRow(r: OrgRow): Org {
  return { alias: r.alias, pool: r.pool, orgId: r.org_id, instanceUrl: r.instance_url, isProduction: r.is_production === 1, updatedAt: r.updated_at };
}

function encodeCursor(createdAt: string, id: string): string {
  return btoa(`${createdAt}|${id}`).replace(/=+$/, "");
}

function decodeCursor(cursor: string): [string, string] {
  try {
    const [at, id] = atob(cursor).split("|");
    if (at && id) return [at, id];
  } catch {
    // fall through
  }
  throw rpcError("invalid_request", "cursor is not one this API returned");
}
