// Org metadata (pool, org id, instance URL): credentials never pass through the edge.
import type { Org, PutOrgBody } from "../protocol/index.ts";
import { DEFAULT_POOL } from "../protocol/task.ts";
import { nowIso } from "./sql.ts";

type OrgRow = {
  alias: string;
  pool: string;
  org_id: string | null;
  instance_url: string | null;
  is_production: number;
  updated_at: string;
};

export class ProjectOrgs {
  private readonly sql: SqlStorage;

  constructor(sql: SqlStorage) {
    this.sql = sql;
  }

  /** Creates or updates an org; fields left out keep their stored value. */
  put(alias: string, body: PutOrgBody): Org {
    const old = this.get(alias);
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

  list(): Org[] {
    return this.sql.exec<OrgRow>("SELECT * FROM sfp_orgs ORDER BY alias").toArray().map(orgFromRow);
  }

  /** Each org's pool, for the view every edge caches. */
  pools(): Record<string, { pool: string }> {
    const orgs: Record<string, { pool: string }> = {};
    for (const r of this.sql.exec<{ alias: string; pool: string }>("SELECT alias, pool FROM sfp_orgs")) orgs[r.alias] = { pool: r.pool };
    return orgs;
  }

  private get(alias: string): Org | null {
    const row = this.sql.exec<OrgRow>("SELECT * FROM sfp_orgs WHERE alias = ?", alias).toArray()[0];
    return row ? orgFromRow(row) : null;
  }
}

function orgFromRow(r: OrgRow): Org {
  return { alias: r.alias, pool: r.pool, orgId: r.org_id, instanceUrl: r.instance_url, isProduction: r.is_production === 1, updatedAt: r.updated_at };
}
