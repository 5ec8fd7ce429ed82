// Webhook sources (issue 3): config the edge caches; secrets leave only toward the edge.
import { isGenuineSourceId, mintSourceId } from "../common/source-ids.ts";
import { rpcError } from "../protocol/index.ts";
import { hookUrl, type PutWebhookSourceBody, type WebhookKind, type WebhookRule, type WebhookSource, type WebhookSourceRecord } from "../protocol/webhook.ts";
import { nowIso } from "./sql.ts";

type WebhookSourceRow = {
  name: string;
  id: string;
  kind: WebhookKind;
  secret: string | null;
  org_id: string | null;
  rules: string;
  created_at: string;
  updated_at: string;
  dedupe_key: string | null;
};

export class WebhookSources {
  private readonly sql: SqlStorage;
  private readonly signingKey: string;

  constructor(sql: SqlStorage, signingKey: string) {
    this.sql = sql;
    this.signingKey = signingKey;
  }

  /**
   * Creates or replaces the source called `name`. Its id (and so its URL) survives replacement,
   * unless the signing key was rotated since it was minted: then it gets a new, valid one.
   */
  async put(project: string, name: string, body: PutWebhookSourceBody): Promise<WebhookSource> {
    const old = this.rows("WHERE name = ?", name)[0];
    const keep = old && (await isGenuineSourceId(this.signingKey, old.id));
    const id = keep ? old.id : await mintSourceId(this.signingKey, project);
    const at = nowIso();
    this.sql.exec(
      `INSERT INTO sfp_webhook_sources (name, id, kind, secret, org_id, rules, created_at, updated_at, dedupe_key) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)
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
      id,
    );
    return this.get(name);
  }

  /**
   * Gives the source a new id, and so a new URL; the old one names nothing from now on. Its secret,
   * rules and dedupe key stay. Answers the old id too, so the edge can forget its cached copy.
   */
  async rotate(project: string, name: string): Promise<{ source: WebhookSource; previousId: string }> {
    const old = this.rows("WHERE name = ?", name)[0];
    if (!old) throw rpcError("not_found", "no such webhook source");
    const id = await mintSourceId(this.signingKey, project);
    this.sql.exec("UPDATE sfp_webhook_sources SET id = ?, updated_at = ? WHERE name = ?", id, nowIso(), name);
    return { source: this.get(name), previousId: old.id };
  }

  get(name: string): WebhookSource {
    const row = this.rows("WHERE name = ?", name)[0];
    if (!row) throw rpcError("not_found", "no such webhook source");
    return sourceFromRow(row);
  }

  list(): WebhookSource[] {
    return this.rows("ORDER BY name").map(sourceFromRow);
  }

  /** Deletes the source and answers its id, so the edge can forget its cached copy. */
  delete(name: string): string {
    const row = this.rows("WHERE name = ?", name)[0];
    if (!row) throw rpcError("not_found", "no such webhook source");
    this.sql.exec("DELETE FROM sfp_webhook_sources WHERE name = ?", name);
    return row.id;
  }

  /** The delivery path's lookup, secret included (edge only); null for an unknown id. */
  byId(project: string, id: string): WebhookSourceRecord | null {
    const row = this.rows("WHERE id = ?", id)[0];
    return row ? { ...sourceFromRow(row), project, secret: row.secret, dedupeKey: row.dedupe_key ?? row.id } : null;
  }

  private rows(clause: string, ...args: string[]): WebhookSourceRow[] {
    return this.sql.exec<WebhookSourceRow>(`SELECT * FROM sfp_webhook_sources ${clause}`, ...args).toArray();
  }
}

function sourceFromRow(r: WebhookSourceRow): WebhookSource {
  const rules = JSON.parse(r.rules) as WebhookRule[];
  return { id: r.id, name: r.name, url: hookUrl(r.id), kind: r.kind, orgId: r.org_id, rules, createdAt: r.created_at, updatedAt: r.updated_at };
}
