// Org metadata (pool, org id, instance URL) and the settings of its lock and approvals: credentials
// never pass through the edge.
import {
  DEFAULT_APPROVAL_TIMEOUT_SECONDS,
  DEFAULT_MAX_CONCURRENT_DEPLOYS,
  DEFAULT_POOL,
  type Org,
  type OrgSettings,
  type PutOrgBody,
} from "../protocol/index.ts";
import { nowIso } from "./sql.ts";

type OrgRow = {
  alias: string;
  pool: string;
  org_id: string | null;
  instance_url: string | null;
  is_production: number;
  protected: number | null;
  max_concurrent_deploys: number;
  approval_timeout_seconds: number;
  updated_at: string;
};

export class ProjectOrgs {
  private readonly sql: SqlStorage;

  constructor(sql: SqlStorage) {
    this.sql = sql;
  }

  /** Creates or updates an org; fields left out keep their stored value. */
  put(alias: string, body: PutOrgBody): Org {
    const old = this.row(alias);
    const isProduction = body.isProduction ?? (old ? old.is_production === 1 : false);
    // Left out, `protected` stays as stored; never set, it follows isProduction.
    const explicit = body.protected ?? (old?.protected === null || old === undefined ? null : old.protected === 1);
    const row: OrgRow = {
      alias,
      pool: body.pool ?? old?.pool ?? DEFAULT_POOL,
      org_id: body.orgId ?? old?.org_id ?? null,
      instance_url: body.instanceUrl ?? old?.instance_url ?? null,
      is_production: isProduction ? 1 : 0,
      protected: explicit === null ? null : explicit ? 1 : 0,
      max_concurrent_deploys: body.maxConcurrentDeploys ?? old?.max_concurrent_deploys ?? DEFAULT_MAX_CONCURRENT_DEPLOYS,
      approval_timeout_seconds: body.approvalTimeoutSeconds ?? old?.approval_timeout_seconds ?? DEFAULT_APPROVAL_TIMEOUT_SECONDS,
      updated_at: nowIso(),
    };
    this.sql.exec(
      `INSERT INTO sfp_orgs (alias, pool, org_id, instance_url, is_production, protected, max_concurrent_deploys, approval_timeout_seconds, updated_at)
       VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)
       ON CONFLICT(alias) DO UPDATE SET pool = excluded.pool, org_id = excluded.org_id, instance_url = excluded.instance_url,
       is_production = excluded.is_production, protected = excluded.protected, max_concurrent_deploys = excluded.max_concurrent_deploys,
       approval_timeout_seconds = excluded.approval_timeout_seconds, updated_at = excluded.updated_at`,
      row.alias,
      row.pool,
      row.org_id,
      row.instance_url,
      row.is_production,
      row.protected,
      row.max_concurrent_deploys,
      row.approval_timeout_seconds,
      row.updated_at,
    );
    return orgFromRow(row);
  }

  list(): Org[] {
    return this.sql.exec<OrgRow>("SELECT * FROM sfp_orgs ORDER BY alias").toArray().map(orgFromRow);
  }

  /** Each org's pool and protection, for the view every edge caches. */
  pools(): Record<string, { pool: string; protected: boolean }> {
    const orgs: Record<string, { pool: string; protected: boolean }> = {};
    for (const r of this.sql.exec<OrgRow>("SELECT * FROM sfp_orgs")) orgs[r.alias] = { pool: r.pool, protected: orgFromRow(r).protected };
    return orgs;
  }

  /** What the org's lock and approvals need (actors/org-actor.ts); null for an org never registered. */
  settings(alias: string): OrgSettings | null {
    const row = this.row(alias);
    return row ? settingsOf(orgFromRow(row)) : null;
  }

  private row(alias: string): OrgRow | undefined {
    return this.sql.exec<OrgRow>("SELECT * FROM sfp_orgs WHERE alias = ?", alias).toArray()[0];
  }
}

export function settingsOf(org: Org): OrgSettings {
  return {
    protected: org.protected,
    maxConcurrentDeploys: org.maxConcurrentDeploys,
    approvalTimeoutSeconds: org.approvalTimeoutSeconds,
    updatedAt: org.updatedAt,
  };
}

function orgFromRow(r: OrgRow): Org {
  const isProduction = r.is_production === 1;
  return {
    alias: r.alias,
    pool: r.pool,
    orgId: r.org_id,
    instanceUrl: r.instance_url,
    isProduction,
    protected: r.protected === null ? isProduction : r.protected === 1,
    maxConcurrentDeploys: r.max_concurrent_deploys,
    approvalTimeoutSeconds: r.approval_timeout_seconds,
    updatedAt: r.updated_at,
  };
}
