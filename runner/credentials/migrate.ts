// Applies runner/credentials/migrations/*.sql in name order, each once, each in a transaction,
// recording them in sfp_schema_migrations. Used by the tests and by operators without the Supabase CLI.
import { readdir, readFile } from "node:fs/promises";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import type pg from "pg";

export const MIGRATIONS_DIR = fileURLToPath(new URL("./migrations/", import.meta.url));

export async function migrate(client: pg.Client | pg.PoolClient, dir = MIGRATIONS_DIR): Promise<string[]> {
  await client.query("create table if not exists sfp_schema_migrations (name text primary key, applied_at timestamptz not null default now())");
  const done = new Set((await client.query<{ name: string }>("select name from sfp_schema_migrations")).rows.map((r) => r.name));
  const files = (await readdir(dir)).filter((f) => f.endsWith(".sql")).sort();
  const applied: string[] = [];
  for (const name of files) {
    if (done.has(name)) continue;
    const sql = await readFile(join(dir, name), "utf8");
    await client.query("begin");
    try {
      await client.query(sql);
      await client.query("insert into sfp_schema_migrations (name) values ($1)", [name]);
      await client.query("commit");
    } catch (err) {
      await client.query("rollback");
      throw new Error(`migration ${name} failed: ${err instanceof Error ? err.message : String(err)}`);
    }
    applied.push(name);
  }
  return applied;
}
