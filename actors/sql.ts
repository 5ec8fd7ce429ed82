// Schema versioning for an actor's SQLite storage: each actor lists its migrations in order; the
// applied count lives in `_sfp_migrations`, and `migrate` runs inside blockConcurrencyWhile so no
// request ever sees a half-migrated schema.
export type Migration = readonly string[];

export function migrate(sql: SqlStorage, migrations: readonly Migration[]): void {
  sql.exec("CREATE TABLE IF NOT EXISTS _sfp_migrations (version INTEGER PRIMARY KEY, applied_at TEXT NOT NULL)");
  const row = sql.exec<{ v: number | null }>("SELECT MAX(version) AS v FROM _sfp_migrations").one();
  const applied = row.v ?? 0;
  for (let i = applied; i < migrations.length; i++) {
    for (const statement of migrations[i]) sql.exec(statement);
    sql.exec("INSERT INTO _sfp_migrations (version, applied_at) VALUES (?, ?)", i + 1, new Date().toISOString());
  }
}

export function nowIso(ms = Date.now()): string {
  return new Date(ms).toISOString();
}
