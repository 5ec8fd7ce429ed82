// Schema versioning for an actor's SQLite storage: each actor lists its migrations in order; the
// applied count lives in `_sfp_migrations`, and `migrate` runs inside blockConcurrencyWhile so no
// request ever sees a half-migrated schema.
export type Migration = readonly string[];

/**
 * Brings the schema up to date. A database with no schema yet gets `fresh` instead when one is given:
 * the schema all of `migrations` together leave behind, in one call, recorded as fully migrated. An
 * actor born for every task pays for its schema on the way to its first answer; replaying history
 * there (tables altered, one record per step) is work no one needs. Older databases still replay
 * what they lack, and `test/workers/schema-fresh.test.ts` holds both paths to the same schema.
 */
export function migrate(sql: SqlStorage, migrations: readonly Migration[], fresh?: Migration): void {
  sql.exec("CREATE TABLE IF NOT EXISTS _sfp_migrations (version INTEGER PRIMARY KEY, applied_at TEXT NOT NULL)");
  const row = sql.exec<{ v: number | null }>("SELECT MAX(version) AS v FROM _sfp_migrations").one();
  const applied = row.v ?? 0;
  if (applied === 0 && fresh && migrations.length) {
    // One exec runs every statement (none takes bindings): the schema is built in one native call.
    sql.exec(fresh.join(";\n"));
    sql.exec("INSERT INTO _sfp_migrations (version, applied_at) VALUES (?, ?)", migrations.length, new Date().toISOString());
    return;
  }
  for (let i = applied; i < migrations.length; i++) {
    for (const statement of migrations[i]) sql.exec(statement);
    sql.exec("INSERT INTO _sfp_migrations (version, applied_at) VALUES (?, ?)", i + 1, new Date().toISOString());
  }
}

export function nowIso(ms = Date.now()): string {
  return new Date(ms).toISOString();
}
