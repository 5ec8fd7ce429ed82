// A task's actor is born with its final schema in one step (actors/sql.ts `migrate` with a fresh
// schema) instead of replaying every migration. Both roads must end at the same schema: a table or
// index left out of FRESH_SCHEMA, or a column that differs from what the migrations leave behind,
// fails here.
import { env, runInDurableObject } from "cloudflare:test";
import { describe, expect, it } from "vitest";
import { migrate } from "../../actors/sql.ts";
import { MIGRATIONS } from "../../actors/task-actor.ts";

// A type alias, not an interface: SqlStorage rows must be indexable records.
type SchemaRow = {
  type: string;
  name: string;
  tbl_name: string;
  sql: string | null;
};

/** Our tables and indexes as SQLite records them, whitespace aside. */
function schema(sql: SqlStorage): SchemaRow[] {
  return sql
    .exec<SchemaRow>("SELECT type, name, tbl_name, sql FROM sqlite_master WHERE name LIKE 'sfp_%' OR name = '_sfp_migrations' ORDER BY type, name")
    .toArray()
    .map((r) => ({ ...r, sql: r.sql === null ? null : r.sql.replace(/\s+/g, " ").trim() }));
}

describe("a task actor's fresh schema", () => {
  it("is what replaying every migration leaves behind, and is recorded as fully migrated in one row", async () => {
    const stub = env.TASK.get(env.TASK.newUniqueId());
    const { born, replayed, bornVersions } = await runInDurableObject(stub, async (_instance, state) => {
      const sql = state.storage.sql;
      const born = schema(sql);
      const bornVersions = sql.exec<{ version: number }>("SELECT version FROM _sfp_migrations ORDER BY version").toArray();
      // Clear the slate and take the long road on the same storage.
      for (const row of born.filter((r) => r.type === "table")) sql.exec(`DROP TABLE ${row.name}`);
      expect(schema(sql)).toEqual([]);
      migrate(sql, MIGRATIONS);
      return { born, replayed: schema(sql), bornVersions };
    });
    expect(born.filter((r) => r.type === "table").map((r) => r.name)).toContain("sfp_org_gate");
    expect(born).toEqual(replayed);
    // Born in one step: one record, at the last version (a replay writes one per migration).
    expect(bornVersions).toEqual([{ version: MIGRATIONS.length }]);
  });

  it("is not applied over a schema that exists: an older actor replays only what it lacks", async () => {
    const stub = env.TASK.get(env.TASK.newUniqueId());
    const versions = await runInDurableObject(stub, async (_instance, state) => {
      const sql = state.storage.sql;
      for (const row of schema(sql).filter((r) => r.type === "table")) sql.exec(`DROP TABLE ${row.name}`);
      // An actor from before migration 4: its first three migrations, one record each.
      migrate(sql, MIGRATIONS.slice(0, 3));
      migrate(sql, MIGRATIONS, ["CREATE TABLE sfp_never (x INTEGER)"]);
      const names = schema(sql).map((r) => r.name);
      expect(names).not.toContain("sfp_never");
      expect(names).toContain("sfp_artifacts");
      return sql
        .exec<{ version: number }>("SELECT version FROM _sfp_migrations ORDER BY version")
        .toArray()
        .map((r) => r.version);
    });
    expect(versions).toEqual([1, 2, 3, 4, 5]);
  });
});
