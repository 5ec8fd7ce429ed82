// The names of a project's schedules (issue 15), one ScheduleListActor per project: each schedule
// lives in its own ScheduleActor, so listing them needs this small directory beside them.
import { DurableObject } from "cloudflare:workers";
import { MAX_SCHEDULES_PER_PROJECT, rpcError } from "../protocol/index.ts";
import type { Env } from "./env.ts";
import { migrate } from "./sql.ts";

const MIGRATIONS = [["CREATE TABLE sfp_schedule_names (name TEXT PRIMARY KEY)"]] as const;

export class ScheduleListActor extends DurableObject<Env> {
  private readonly sql: SqlStorage;

  constructor(ctx: DurableObjectState, env: Env) {
    super(ctx, env);
    this.sql = ctx.storage.sql;
    ctx.blockConcurrencyWhile(async () => migrate(this.sql, MIGRATIONS));
  }

  /** Adds a name (a known one is fine); a new one past MAX_SCHEDULES_PER_PROJECT is a conflict. */
  async add(name: string): Promise<void> {
    if (this.sql.exec("SELECT 1 FROM sfp_schedule_names WHERE name = ?", name).toArray().length) return;
    const count = this.sql.exec<{ n: number }>("SELECT COUNT(*) AS n FROM sfp_schedule_names").one().n;
    if (count >= MAX_SCHEDULES_PER_PROJECT) throw rpcError("conflict", `a project has at most ${MAX_SCHEDULES_PER_PROJECT} schedules`);
    this.sql.exec("INSERT INTO sfp_schedule_names (name) VALUES (?)", name);
  }

  async remove(name: string): Promise<void> {
    this.sql.exec("DELETE FROM sfp_schedule_names WHERE name = ?", name);
  }

  async names(): Promise<string[]> {
    return this.sql
      .exec<{ name: string }>("SELECT name FROM sfp_schedule_names ORDER BY name")
      .toArray()
      .map((r) => r.name);
  }
}
