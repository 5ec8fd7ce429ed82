// The project's own row and its API tokens: only each token's SHA-256 is stored, with its revocation.
import { sha256Hex, signToken } from "../common/tokens.ts";
import { newId, rpcError, type CreateTokenBody, type Project, type Role, type TokenInfo } from "../protocol/index.ts";
import { nowIso } from "./sql.ts";

export interface CreatedToken {
  id: string;
  token: string;
  role: Role;
  expiresAt: string | null;
}

export class ProjectTokens {
  private readonly sql: SqlStorage;
  private readonly signingKey: string;

  constructor(sql: SqlStorage, signingKey: string) {
    this.sql = sql;
    this.signingKey = signingKey;
  }

  /** The project, or null before `init`. */
  find(): Project | null {
    const row = this.sql.exec<{ id: string; name: string; created_at: string }>("SELECT * FROM sfp_project").toArray()[0];
    return row ? { id: row.id, name: row.name, createdAt: row.created_at } : null;
  }

  /** The project, or `not_found`: every project-scoped call starts here. */
  project(): Project {
    const project = this.find();
    if (!project) throw rpcError("not_found", "no such project");
    return project;
  }

  async init(id: string, name: string): Promise<{ project: Project; ownerToken: string }> {
    if (this.find()) throw rpcError("conflict", "project already exists");
    this.sql.exec("INSERT INTO sfp_project (id, name, created_at) VALUES (?, ?, ?)", id, name, nowIso());
    const owner = await this.create({ name: "owner", role: "owner" });
    return { project: this.project(), ownerToken: owner.token };
  }

  async create(body: CreateTokenBody): Promise<CreatedToken> {
    const project = this.project();
    const id = newId("tok");
    const expiresMs = body.expiresInDays ? Date.now() + body.expiresInDays * 86_400_000 : 0;
    const token = await signToken(this.signingKey, { k: "api", id, p: project.id, r: body.role, e: Math.floor(expiresMs / 1000) });
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

  list(): TokenInfo[] {
    this.project();
    return this.sql
      .exec<{ id: string; name: string; role: Role; created_at: string; expires_at: string | null; revoked_at: string | null }>(
        "SELECT id, name, role, created_at, expires_at, revoked_at FROM sfp_tokens ORDER BY created_at",
      )
      .toArray()
      .map((r) => ({ id: r.id, name: r.name, role: r.role, createdAt: r.created_at, expiresAt: r.expires_at, revokedAt: r.revoked_at }));
  }

  revoke(id: string): void {
    this.project();
    const row = this.sql.exec<{ revoked_at: string | null }>("SELECT revoked_at FROM sfp_tokens WHERE id = ?", id).toArray()[0];
    if (!row) throw rpcError("not_found", "no such token");
    if (!row.revoked_at) this.sql.exec("UPDATE sfp_tokens SET revoked_at = ? WHERE id = ?", nowIso(), id);
  }

  /** Whether the token exists and is neither revoked nor expired: the authoritative check. */
  isLive(id: string, now = Date.now()): boolean {
    const sql = "SELECT id FROM sfp_tokens WHERE id = ? AND revoked_at IS NULL AND (expires_at IS NULL OR expires_at > ?)";
    return this.sql.exec(sql, id, nowIso(now)).toArray().length > 0;
  }

  revokedIds(): string[] {
    return this.sql
      .exec<{ id: string }>("SELECT id FROM sfp_tokens WHERE revoked_at IS NOT NULL")
      .toArray()
      .map((r) => r.id);
  }
}
