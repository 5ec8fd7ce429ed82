// The line of one org's lock (actors/org-actor.ts): who holds it and who waits, in priority then
// arrival order. `pump` grants the lock while fewer than the org's limit hold it and says which
// waiters' places changed, so the actor tells each task in the same commit.
import type { Priority } from "../protocol/index.ts";

export const LINE_TABLE = `CREATE TABLE sfp_line (seq INTEGER PRIMARY KEY AUTOINCREMENT, task_id TEXT NOT NULL UNIQUE, rank INTEGER NOT NULL,
       created_at TEXT NOT NULL, holding INTEGER NOT NULL DEFAULT 0, granted_at INTEGER, told_position INTEGER, told_holder TEXT)`;

const RANK: Record<Priority, number> = { critical: 0, normal: 1, batch: 2 };

/** A task asking for the lock. */
export interface LockRequest {
  project: string;
  org: string;
  taskId: string;
  priority: Priority;
  createdAt: string;
  /** The org is protected and an approver said yes (task-org-gate.ts). */
  approved: boolean;
}

/** What the line's change means for the tasks in it. */
export type LineNotice = { kind: "granted"; taskId: string } | { kind: "waiting"; taskId: string; position: number; holder: string | null };

type Row = { seq: number; task_id: string; holding: number; told_position: number | null; told_holder: string | null };

export class OrgLine {
  private readonly sql: SqlStorage;

  constructor(sql: SqlStorage) {
    this.sql = sql;
  }

  /** Where the task stands: "holding", "waiting", or null when it is not in line. */
  state(taskId: string): "holding" | "waiting" | null {
    const row = this.sql.exec<Row>("SELECT * FROM sfp_line WHERE task_id = ?", taskId).toArray()[0];
    if (!row) return null;
    return row.holding ? "holding" : "waiting";
  }

  join(req: LockRequest): void {
    this.sql.exec("INSERT OR IGNORE INTO sfp_line (task_id, rank, created_at) VALUES (?, ?, ?)", req.taskId, RANK[req.priority] ?? RANK.normal, req.createdAt);
  }

  /** The task leaves the line, holding or waiting; true when it was in it. */
  leave(taskId: string): boolean {
    return this.sql.exec("DELETE FROM sfp_line WHERE task_id = ?", taskId).rowsWritten > 0;
  }

  /** Forgets what each waiter was told, so the next pump tells every one of them again. */
  forgetTold(taskId: string): void {
    this.sql.exec("UPDATE sfp_line SET told_position = NULL, told_holder = NULL WHERE task_id = ?", taskId);
  }

  /**
   * Grants the lock to the first waiters while fewer than `limit` hold it, then lists every waiter
   * whose position or holder changed since it was last told. Synchronous: the caller commits the
   * grants and their notices together.
   */
  pump(limit: number, now: number): LineNotice[] {
    const notices: LineNotice[] = [];
    let holding = this.sql.exec<{ n: number }>("SELECT COUNT(*) AS n FROM sfp_line WHERE holding = 1").one().n;
    const waiting = this.sql.exec<Row>("SELECT * FROM sfp_line WHERE holding = 0 ORDER BY rank, created_at, seq").toArray();
    let next = 0;
    for (; holding < limit && next < waiting.length; next++, holding++) {
      const row = waiting[next];
      this.sql.exec("UPDATE sfp_line SET holding = 1, granted_at = ? WHERE seq = ?", now, row.seq);
      notices.push({ kind: "granted", taskId: row.task_id });
    }
    const holder = this.sql.exec<{ task_id: string }>("SELECT task_id FROM sfp_line WHERE holding = 1 ORDER BY granted_at, seq LIMIT 1").toArray()[0];
    const holderId = holder?.task_id ?? null;
    for (let i = next; i < waiting.length; i++) {
      const row = waiting[i];
      const position = i - next + 1;
      if (row.told_position === position && row.told_holder === holderId) continue;
      this.sql.exec("UPDATE sfp_line SET told_position = ?, told_holder = ? WHERE seq = ?", position, holderId, row.seq);
      notices.push({ kind: "waiting", taskId: row.task_id, position, holder: holderId });
    }
    return notices;
  }

  /** The line as it stands (holders first), for tests and operators. */
  list(): { taskId: string; holding: boolean }[] {
    return this.sql
      .exec<Row>("SELECT * FROM sfp_line ORDER BY holding DESC, rank, created_at, seq")
      .toArray()
      .map((r) => ({ taskId: r.task_id, holding: r.holding === 1 }));
  }
}
