// WebSocket tickets for browsers: signed, single use, 60 s. The row is what makes one single use.
import { signToken } from "../common/tokens.ts";
import { newId, type Role } from "../protocol/index.ts";
import { nowIso } from "./sql.ts";

const TICKET_TTL_MS = 60 * 1000;

export class WsTickets {
  private readonly sql: SqlStorage;
  private readonly signingKey: string;

  constructor(sql: SqlStorage, signingKey: string) {
    this.sql = sql;
    this.signingKey = signingKey;
  }

  async issue(project: string, tokenId: string, role: Role): Promise<{ ticket: string; expiresAt: string }> {
    const id = newId("wst");
    const expires = Date.now() + TICKET_TTL_MS;
    this.sql.exec("INSERT INTO sfp_tickets (id, expires_at) VALUES (?, ?)", id, expires);
    const ticket = await signToken(this.signingKey, { k: "wst", id, p: project, tok: tokenId, r: role, e: Math.floor(expires / 1000) });
    return { ticket, expiresAt: nowIso(expires) };
  }

  /** True the first time a live ticket is used, false ever after. */
  consume(id: string, now = Date.now()): boolean {
    this.sql.exec("DELETE FROM sfp_tickets WHERE expires_at <= ?", now);
    const row = this.sql.exec("SELECT id FROM sfp_tickets WHERE id = ?", id).toArray()[0];
    if (!row) return false;
    this.sql.exec("DELETE FROM sfp_tickets WHERE id = ?", id);
    return true;
  }
}
