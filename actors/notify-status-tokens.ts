// The commit-status token of each GitHub/GitLab webhook source (issue 14): write-only through the API,
// sealed at rest (common/secret-box.ts), opened only to send a status. The owner sees whether one is
// set, the API URL, and the last refusal (a revoked token shows here instead of failing silently).
import { open, seal } from "../common/secret-box.ts";
import { rpcError } from "../protocol/index.ts";
import type { CommitProvider, SourceStatusReport } from "../protocol/notify.ts";
import type { WebhookKind } from "../protocol/webhook.ts";
import { nowIso } from "./sql.ts";

export const DEFAULT_API_URLS: Record<CommitProvider, string> = { github: "https://api.github.com", gitlab: "https://gitlab.com/api/v4" };

type StatusRow = {
  source: string;
  token: string;
  api_url: string | null;
  origin: string | null;
  error_code: string | null;
  error_message: string | null;
  error_at: string | null;
};

export interface StatusCredentials {
  provider: CommitProvider;
  token: string;
  apiUrl: string;
  origin: string | null;
}

export interface StatusTokenSettings {
  project: () => string;
  boxSecret: string;
  /** Throws a 400 naming `field` when the edge may not send to `url`. */
  checkUrl: (url: string, field: string) => void;
}

export class SourceStatusTokens {
  private readonly sql: SqlStorage;
  private readonly settings: StatusTokenSettings;

  constructor(sql: SqlStorage, settings: StatusTokenSettings) {
    this.sql = sql;
    this.settings = settings;
  }

  /** Checks what a source PUT says about statuses before anything is written. */
  check(kind: WebhookKind, body: { statusToken?: string | null; statusApiUrl?: string }): void {
    const wants = body.statusToken !== undefined || body.statusApiUrl !== undefined;
    if (wants && kind !== "github" && kind !== "gitlab")
      throw rpcError("invalid_request", "statusToken: only github and gitlab sources report commit statuses");
    if (body.statusApiUrl !== undefined) this.settings.checkUrl(body.statusApiUrl, "statusApiUrl");
  }

  /** A new token (sealed, its error cleared), null to remove it; left out, the stored one stays (the API URL may change). */
  async put(name: string, body: { statusToken?: string | null; statusApiUrl?: string }, origin: string): Promise<void> {
    if (body.statusToken === null) {
      this.delete(name);
      return;
    }
    if (body.statusToken !== undefined) {
      const sealed = await seal(this.settings.boxSecret, this.context(name), body.statusToken);
      this.sql.exec(
        `INSERT INTO sfp_source_status (source, token, api_url, origin) VALUES (?, ?, ?, ?)
         ON CONFLICT(source) DO UPDATE SET token = excluded.token, api_url = excluded.api_url, origin = excluded.origin,
         error_code = NULL, error_message = NULL, error_at = NULL`,
        name,
        sealed,
        body.statusApiUrl ?? null,
        origin,
      );
    } else if (body.statusApiUrl !== undefined) {
      this.sql.exec("UPDATE sfp_source_status SET api_url = ?, origin = ? WHERE source = ?", body.statusApiUrl, origin, name);
    }
  }

  delete(name: string): void {
    this.sql.exec("DELETE FROM sfp_source_status WHERE source = ?", name);
  }

  report(name: string): SourceStatusReport {
    const row = this.row(name);
    if (!row) return { tokenSet: false, apiUrl: null, error: null };
    return {
      tokenSet: true,
      apiUrl: row.api_url,
      error: row.error_code ? { code: row.error_code, message: row.error_message ?? "", at: row.error_at ?? "" } : null,
    };
  }

  /** The source that reports `provider` statuses: `named`, else the first (by name) with a token. */
  sourceFor(provider: CommitProvider, named?: string): string | null {
    const rows = this.sql
      .exec<{ source: string }>(
        "SELECT s.source FROM sfp_source_status s JOIN sfp_webhook_sources w ON w.name = s.source WHERE w.kind = ? ORDER BY s.source",
        provider,
      )
      .toArray();
    if (named !== undefined) return rows.some((r) => r.source === named) ? named : null;
    return rows[0]?.source ?? null;
  }

  /** What a send needs; null when the source or its token is gone, or the token cannot be opened (key changed). */
  async credentials(name: string): Promise<StatusCredentials | null> {
    const row = this.row(name);
    const kind = this.sql.exec<{ kind: string }>("SELECT kind FROM sfp_webhook_sources WHERE name = ?", name).toArray()[0]?.kind;
    if (!row || (kind !== "github" && kind !== "gitlab")) return null;
    const token = await open(this.settings.boxSecret, this.context(name), row.token);
    if (token === null) {
      this.fail(
        name,
        "status_token_unreadable",
        "the stored status token cannot be decrypted (SECRETS_KEY changed?); PUT the source with its statusToken again",
      );
      return null;
    }
    return { provider: kind, token, apiUrl: (row.api_url ?? DEFAULT_API_URLS[kind]).replace(/\/+$/, ""), origin: row.origin };
  }

  fail(name: string, code: string, message: string): void {
    this.sql.exec("UPDATE sfp_source_status SET error_code = ?, error_message = ?, error_at = ? WHERE source = ?", code, message, nowIso(), name);
  }

  clearError(name: string): void {
    this.sql.exec("UPDATE sfp_source_status SET error_code = NULL, error_message = NULL, error_at = NULL WHERE source = ? AND error_code IS NOT NULL", name);
  }

  private row(name: string): StatusRow | undefined {
    return this.sql.exec<StatusRow>("SELECT * FROM sfp_source_status WHERE source = ?", name).toArray()[0];
  }

  private context(name: string): string {
    return `${this.settings.project()}/webhook-source/${name}/statusToken`;
  }
}
