// WebSocket tickets for browsers: signed, single use, 60 s, and good only while the token that asked
// for one lives. The row is what makes a ticket single use and ties it to its token.
import { signToken } from "../common/tokens.ts";
import { newId, rpcError, WS_TICKET_SECONDS, type Role } from "../protocol/index.ts";
import { nowIso } from "./sql.ts";

const TICKET_TTL_MS = WS_TICKET_SECONDS * 1000;

/** Whether a token is neither revoked nor expired (ProjectTokens.isLive). */
export type TokenLive = (tokenId: string, now: number) => boolean;

export class WsTickets {
  private readonly sql: SqlStorage;
  private readonly signingKey: string;
  private readonly tokenLive: TokenLive;

  constructor(sql: SqlStorage, signingKey: string, tokenLive: TokenLive) {
    this.sql = sql;
    this.signingKey = signingKey;
    this.tokenLive = tokenLive;
  }

  async issue(project: string, tokenId: string, role: Role): Promise<{ ticket: string; expiresAt: string }> {
    // The edge checked the token against a view up to 30 s old; this is the authoritative check.
    if (!this.tokenLive(tokenId, Date.now())) throw rpcError("unauthenticated", "the bearer token is invalid, expired or revoked");
    const id = newId("wst");
    const expires = Date.now() + TICKET_TTL_MS;
    this.sql.exec("INSERT INTO sfp_tickets (id, expires_at, token_id) VALUES (?, ?, ?)", id, expires, tokenId);
    const ticket = await signToken(this.signingKey, { k: "wst", id, p: project, tok: tokenId, r: role, e: Math.floor(expires / 1000) });
    return { ticket, expiresAt: nowIso(expires) };
  }

  /**
   * The id of the token a live ticket was minted for, the first time the ticket is used; null ever
   * after, and null when that token has since been revoked or has expired (the ticket is spent then
   * too). A ticket minted before tickets recorded their token is refused: it lives 60 s at most.
   */
  consume(id: string, now = Date.now()): string | null {
    this.sql.exec("DELETE FROM sfp_tickets WHERE expires_at <= ?", now);
    const row = this.sql.exec<{ token_id: string | null }>("SELECT token_id FROM sfp_tickets WHERE id = ?", id).toArray()[0];
    if (!row) return null;
    this.sql.exec("DELETE FROM sfp_tickets WHERE id = ?", id);
    return row.token_id && this.tokenLive(row.token_id, now) ? row.token_id : null;
  }
}
