// Which (project, pool) a DispatcherActor serves. Its name says so, but an actor cannot read its own
// name everywhere, so the first call that carries them (an enqueue, a registration) writes them down
// (sfp_meta); they never change, so they are read from storage once per instance.
import { rpcError } from "../protocol/index.ts";

export interface PoolId {
  project: string;
  pool: string;
}

export class PoolIdentity {
  private readonly sql: SqlStorage;
  private known: PoolId | null = null;

  constructor(sql: SqlStorage) {
    this.sql = sql;
  }

  remember(project: string, pool: string): void {
    if (this.known) return;
    this.sql.exec("INSERT INTO sfp_meta (key, value) VALUES ('project', ?), ('pool', ?) ON CONFLICT(key) DO NOTHING", project, pool);
  }

  /** The pool, or null before any call named it. */
  get(): PoolId | null {
    if (this.known) return this.known;
    const rows = this.sql.exec<{ key: string; value: string }>("SELECT key, value FROM sfp_meta").toArray();
    const project = rows.find((r) => r.key === "project")?.value;
    const pool = rows.find((r) => r.key === "pool")?.value;
    this.known = project && pool ? { project, pool } : null;
    return this.known;
  }

  /** The pool; "not found" before any call named it. */
  require(): PoolId {
    const id = this.get();
    if (!id) throw rpcError("not_found", "no such pool");
    return id;
  }
}
