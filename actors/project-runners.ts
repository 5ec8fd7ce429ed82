// Runner registration (issue 4): registration tokens (hashes with their remaining uses) and the
// runners the project has seen with their pool, so owners can list and revoke across pools.
import { sha256Hex, signToken } from "../common/tokens.ts";
import { newId, rpcError, type CreateRegistrationTokenBody } from "../protocol/index.ts";
import { nowIso } from "./sql.ts";

const REGISTRATION_TOKEN_TTL_SECONDS = 3600;

export class RunnerRegistry {
  private readonly sql: SqlStorage;
  private readonly signingKey: string;

  constructor(sql: SqlStorage, signingKey: string) {
    this.sql = sql;
    this.signingKey = signingKey;
  }

  /** A registration token for `pool`: signed (so a forged one costs no lookup), stored as a hash. */
  async createToken(project: string, body: CreateRegistrationTokenBody, now = Date.now()): Promise<{ token: string; expiresAt: string }> {
    const id = newId("rtk");
    const expires = now + (body.expiresInSeconds ?? REGISTRATION_TOKEN_TTL_SECONDS) * 1000;
    const token = await signToken(this.signingKey, { k: "reg", id, p: project, pool: body.pool, e: Math.floor(expires / 1000) });
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
   * unknown tokens are all "unauthenticated": the caller learns nothing about which. The runner gets
   * the token's labels and no others: claiming one the token does not grant is refused (forbidden)
   * before the use is spent, since labels decide which tasks a runner may take.
   */
  redeem(id: string, hash: string, runnerId: string, claimed: readonly string[] = [], now = Date.now()): { pool: string; labels: string[] } {
    const row = this.sql
      .exec<{ hash: string; pool: string; labels: string; uses_left: number; expires_at: number }>(
        "SELECT hash, pool, labels, uses_left, expires_at FROM sfp_registration_tokens WHERE id = ?",
        id,
      )
      .toArray()[0];
    if (!row || row.hash !== hash || row.uses_left <= 0 || row.expires_at <= now) {
      throw rpcError("unauthenticated", "the registration token is invalid, used up or expired");
    }
    const labels = JSON.parse(row.labels) as string[];
    const beyond = claimed.filter((label) => !labels.includes(label));
    if (beyond.length) {
      throw rpcError("forbidden", `the registration token does not grant the labels ${beyond.join(", ")}; it grants ${labels.join(", ") || "none"}`);
    }
    this.sql.exec("UPDATE sfp_registration_tokens SET uses_left = uses_left - 1 WHERE id = ?", id);
    this.sql.exec("DELETE FROM sfp_registration_tokens WHERE uses_left <= 0 OR expires_at <= ?", now);
    this.sql.exec("INSERT INTO sfp_runner_index (id, pool, registered_at) VALUES (?, ?, ?)", runnerId, row.pool, nowIso(now));
    return { pool: row.pool, labels };
  }

  /** The pools that have (or had) runners, for listing runners across pools. */
  pools(): string[] {
    return this.sql
      .exec<{ pool: string }>("SELECT DISTINCT pool FROM sfp_runner_index WHERE revoked_at IS NULL ORDER BY pool")
      .toArray()
      .map((r) => r.pool);
  }

  /** The pool of a runner that is not revoked; 404 otherwise. */
  poolOf(runnerId: string): string {
    const row = this.sql.exec<{ pool: string }>("SELECT pool FROM sfp_runner_index WHERE id = ? AND revoked_at IS NULL", runnerId).toArray()[0];
    if (!row) throw rpcError("not_found", "no such runner");
    return row.pool;
  }

  revoked(runnerId: string): void {
    this.sql.exec("UPDATE sfp_runner_index SET revoked_at = ? WHERE id = ? AND revoked_at IS NULL", nowIso(), runnerId);
  }
}
