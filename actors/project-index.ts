// The task index behind the list endpoint: one row per task, as of its last status change (the
// TaskActor is authoritative), paged newest first by an opaque (createdAt, id) cursor.
import { rpcError, type Task, type TaskList, type TaskStatus } from "../protocol/index.ts";

const MAX_LIST = 200;

export class TaskIndex {
  private readonly sql: SqlStorage;

  constructor(sql: SqlStorage) {
    this.sql = sql;
  }

  /** Stores the task unless a newer version is there; true when it did. */
  put(task: Task): boolean {
    return (
      this.sql.exec(
        `INSERT INTO sfp_tasks (id, created_at, status, version, body) VALUES (?, ?, ?, ?, ?)
         ON CONFLICT(id) DO UPDATE SET status = excluded.status, version = excluded.version, body = excluded.body
         WHERE excluded.version > sfp_tasks.version`,
        task.id,
        task.createdAt,
        task.status,
        task.version,
        JSON.stringify(task),
      ).rowsWritten > 0
    );
  }

  /** Newest first; the cursor is the (createdAt, id) of the last task returned. */
  list(opts: { status?: TaskStatus; limit: number; cursor?: string }): TaskList {
    const limit = Math.max(1, Math.min(opts.limit, MAX_LIST));
    const where: string[] = [];
    const args: (string | number)[] = [];
    if (opts.status) {
      where.push("status = ?");
      args.push(opts.status);
    }
    if (opts.cursor) {
      const [at, id] = decodeCursor(opts.cursor);
      where.push("(created_at < ? OR (created_at = ? AND id < ?))");
      args.push(at, at, id);
    }
    const rows = this.sql
      .exec<{ id: string; created_at: string; body: string }>(
        `SELECT id, created_at, body FROM sfp_tasks ${where.length ? `WHERE ${where.join(" AND ")}` : ""}
         ORDER BY created_at DESC, id DESC LIMIT ?`,
        ...args,
        limit + 1,
      )
      .toArray();
    const page = rows.slice(0, limit);
    const last = page[page.length - 1];
    return {
      tasks: page.map((r) => JSON.parse(r.body) as Task),
      cursor: rows.length > limit && last ? encodeCursor(last.created_at, last.id) : null,
    };
  }
}

function encodeCursor(createdAt: string, id: string): string {
  return btoa(`${createdAt}|${id}`).replace(/=+$/, "");
}

function decodeCursor(cursor: string): [string, string] {
  try {
    const [at, id] = atob(cursor).split("|");
    if (at && id) return [at, id];
  } catch {
    // fall through
  }
  throw rpcError("invalid_request", "cursor is not one this API returned");
}
