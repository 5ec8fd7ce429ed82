// The task index behind the list endpoint: one summary per task (no payload, no result), as of its
// last status change (the TaskActor is authoritative), paged newest first by an opaque (createdAt, id)
// cursor. Summaries keep a page of 200 tasks small in the actor that also checks the project's tokens.
import { publicSourceId } from "../common/source-ids.ts";
import { rpcError, taskSummary, type TaskList, type TaskStatus, type TaskSummary, type TaskType } from "../protocol/index.ts";

const MAX_LIST = 200;

/**
 * A page of the list and its filters (all optional, all must match). `source` is `api`, `webhook`, or
 * `webhook:<name>` (the webhook source's name). Filters other than status read the stored summary's
 * JSON, so a rare match may walk many rows: the page stays bounded, the scan does not.
 */
export interface TaskListQuery {
  status?: TaskStatus;
  type?: TaskType;
  org?: string;
  source?: string;
  limit: number;
  cursor?: string;
}

export class TaskIndex {
  private readonly sql: SqlStorage;

  constructor(sql: SqlStorage) {
    this.sql = sql;
  }

  /** Stores the task's summary unless a newer version is there; the summary when it did, else null. */
  put(task: TaskSummary): TaskSummary | null {
    const summary = forReaders(task);
    const written =
      this.sql.exec(
        `INSERT INTO sfp_tasks (id, created_at, status, version, body) VALUES (?, ?, ?, ?, ?)
         ON CONFLICT(id) DO UPDATE SET status = excluded.status, version = excluded.version, body = excluded.body
         WHERE excluded.version > sfp_tasks.version`,
        summary.id,
        summary.createdAt,
        summary.status,
        summary.version,
        JSON.stringify(summary),
      ).rowsWritten > 0;
    return written ? summary : null;
  }

  /** Newest first; the cursor is the (createdAt, id) of the last task returned. */
  list(opts: TaskListQuery): TaskList {
    const limit = Math.max(1, Math.min(opts.limit, MAX_LIST));
    const where: string[] = [];
    const args: (string | number)[] = [];
    if (opts.status) {
      where.push("status = ?");
      args.push(opts.status);
    }
    if (opts.type) {
      where.push("json_extract(body, '$.type') = ?");
      args.push(opts.type);
    }
    if (opts.org) {
      where.push("json_extract(body, '$.org') = ?");
      args.push(opts.org);
    }
    if (opts.source) {
      const [kind, name] = opts.source.split(/:(.*)/s);
      where.push("json_extract(body, '$.source.kind') = ?");
      args.push(kind ?? opts.source);
      if (name) {
        where.push("json_extract(body, '$.source.sourceName') = ?");
        args.push(name);
      }
    }
    if (opts.cursor) {
      const [at, id] = decodeCursor(opts.cursor);
      where.push("(created_at < ? OR (created_at = ? AND id < ?))");
      args.push(at, at, id);
    }
    const rows = this.sql
      // Rows written before the index held summaries still hold whole tasks: SQLite trims them per row,
      // so a page never holds their payloads and results at once.
      .exec<{ id: string; created_at: string; body: string }>(
        `SELECT id, created_at, json_remove(body, '$.payload', '$.result') AS body FROM sfp_tasks ${where.length ? `WHERE ${where.join(" AND ")}` : ""}
         ORDER BY created_at DESC, id DESC LIMIT ?`,
        ...args,
        limit + 1,
      )
      .toArray();
    const page = rows.slice(0, limit);
    const last = page[page.length - 1];
    return {
      tasks: page.map((r) => forReaders(JSON.parse(r.body) as TaskSummary)),
      cursor: rows.length > limit && last ? encodeCursor(last.created_at, last.id) : null,
    };
  }
}

/** The summary every reader may see: a webhook source's reference, never its id (tasks made earlier held it). */
function forReaders(task: TaskSummary): TaskSummary {
  const summary = taskSummary(task);
  if (summary.source.kind !== "webhook") return summary;
  return { ...summary, source: { ...summary.source, sourceId: publicSourceId(summary.source.sourceId) } };
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
