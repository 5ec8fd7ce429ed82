// The line of one org's lock (actors/org-actor.ts): who holds it and who waits, in priority then
// arrival order. `pump` grants the lock while fewer than the org's limit hold it and says which
// waiters must be told their place, so the actor tells each task in the same commit.
//
// Telling every waiter each time its place changes costs a task-actor commit per waiter per change:
// a line of n costs n² as it drains (or as deploys join ahead of waiting batch validates). So the
// first EXACT_PLACES waiters are told exactly and at once; further back a waiter is told its place
// when it joins, then only when that place has halved, in one pass per RETELL_MS (`retell`). Each
// waiter is told O(log n) times. Higher priorities joining ahead push a far waiter back without a
// word (its place is shown too small until it halves again or reaches the exact places): telling
// it would cost a notice per waiter per joiner again.
import type { Priority } from "../protocol/index.ts";

export const LINE_TABLE = `CREATE TABLE sfp_line (seq INTEGER PRIMARY KEY AUTOINCREMENT, task_id TEXT NOT NULL UNIQUE, rank INTEGER NOT NULL,
       created_at TEXT NOT NULL, holding INTEGER NOT NULL DEFAULT 0, granted_at INTEGER, told_position INTEGER, told_holder TEXT)`;
/** The line's order as an index, so a place is counted without reading the line. */
export const LINE_ORDER_INDEX = "CREATE INDEX sfp_line_order ON sfp_line (holding, rank, created_at, seq)";
/**
 * Tasks that left the line (ended or canceled), remembered as long as a delivery is: an ingest
 * shard's hand-off may be retried after its task already ended, and must not put it back in line.
 */
export const LEFT_TABLE = "CREATE TABLE sfp_left (task_id TEXT PRIMARY KEY, left_at INTEGER NOT NULL)";
export const LEFT_AGE_INDEX = "CREATE INDEX sfp_left_age ON sfp_left (left_at)";

/** Waiters this close to the lock always know their exact place and holder. */
export const EXACT_PLACES = 10;
/** How often, at most, waiters further back are re-told their place. */
export const RETELL_MS = 1_000;

const RANK: Record<Priority, number> = { critical: 0, normal: 1, batch: 2 };
const ORDER = "ORDER BY rank, created_at, seq";
/** The waiters with their place in line (1 = next), numbered by SQLite on the order index. */
const NUMBERED = `SELECT *, ROW_NUMBER() OVER (${ORDER}) AS position FROM sfp_line WHERE holding = 0`;

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

type Row = { seq: number; task_id: string; rank: number; created_at: string; holding: number; told_position: number | null; told_holder: string | null };

/** What a pump decided: the notices to send, and whether waiters past the exact places moved. */
export interface Pumped {
  notices: LineNotice[];
  /** Some waiter past EXACT_PLACES may have a new place: `retell` soon. */
  deepMoved: boolean;
}

export class OrgLine {
  private readonly sql: SqlStorage;

  constructor(sql: SqlStorage) {
    this.sql = sql;
  }

  /** Where the task stands: "holding", "waiting", or null when it is not in line. */
  state(taskId: string): "holding" | "waiting" | null {
    const row = this.row(taskId);
    if (!row) return null;
    return row.holding ? "holding" : "waiting";
  }

  /** The task left the line before (ended or canceled): it must not join again. */
  hasLeft(taskId: string): boolean {
    return this.sql.exec("SELECT 1 FROM sfp_left WHERE task_id = ?", taskId).toArray().length > 0;
  }

  /** Forgets the tasks that left before `before` (ms). */
  pruneLeft(before: number): void {
    this.sql.exec("DELETE FROM sfp_left WHERE left_at < ?", before);
  }

  /** The task joins the line; true when it joined behind everyone (no one else's place changed). */
  join(req: LockRequest): boolean {
    this.sql.exec("INSERT OR IGNORE INTO sfp_line (task_id, rank, created_at) VALUES (?, ?, ?)", req.taskId, RANK[req.priority] ?? RANK.normal, req.createdAt);
    const row = this.row(req.taskId);
    // A row value compares in the order index's own order: one step on it, never a scan.
    return (
      !row ||
      this.sql.exec("SELECT 1 FROM sfp_line WHERE holding = 0 AND (rank, created_at, seq) > (?, ?, ?) LIMIT 1", row.rank, row.created_at, row.seq).toArray()
        .length === 0
    );
  }

  /** The task leaves the line; what it was doing there, or null when it was not in it. */
  leave(taskId: string, now: number): "holding" | "waiting" | null {
    const state = this.state(taskId);
    if (state) this.sql.exec("DELETE FROM sfp_line WHERE task_id = ?", taskId);
    this.sql.exec("INSERT OR IGNORE INTO sfp_left (task_id, left_at) VALUES (?, ?)", taskId, now);
    return state;
  }

  /** More waiters than know their exact place: a shift in the line moves someone who is re-told later. */
  hasDeep(): boolean {
    // Counting stops past the exact places: asked once per join, it must not count a long line.
    return (
      this.sql.exec<{ n: number }>("SELECT COUNT(*) AS n FROM (SELECT 1 FROM sfp_line WHERE holding = 0 LIMIT ?)", EXACT_PLACES + 1).one().n > EXACT_PLACES
    );
  }

  /** Forgets what the waiter was told, so the next pump tells it again. */
  forgetTold(taskId: string): void {
    this.sql.exec("UPDATE sfp_line SET told_position = NULL, told_holder = NULL WHERE task_id = ?", taskId);
  }

  /**
   * Grants the lock to the first waiters while fewer than `limit` hold it, then tells the first
   * EXACT_PLACES waiters whose place or holder changed, and the tasks in `tell` (that just asked)
   * their place wherever they stand. Synchronous: the caller commits the grants and their notices together.
   */
  pump(limit: number, now: number, tell: readonly string[] = []): Pumped {
    const notices: LineNotice[] = [];
    const holding = this.sql.exec<{ n: number }>("SELECT COUNT(*) AS n FROM sfp_line WHERE holding = 1").one().n;
    const granted = holding < limit ? this.sql.exec<Row>(`SELECT * FROM sfp_line WHERE holding = 0 ${ORDER} LIMIT ?`, limit - holding).toArray() : [];
    for (const row of granted) {
      this.sql.exec("UPDATE sfp_line SET holding = 1, granted_at = ? WHERE seq = ?", now, row.seq);
      notices.push({ kind: "granted", taskId: row.task_id });
    }
    const holder = this.holder();
    const near = this.sql.exec<Row>(`SELECT * FROM sfp_line WHERE holding = 0 ${ORDER} LIMIT ?`, EXACT_PLACES).toArray();
    for (const [i, row] of near.entries()) this.tellIfChanged(row, i + 1, holder, notices, true);
    this.tellAskers(tell, near.length, holder, notices);
    return { notices, deepMoved: granted.length > 0 && this.hasDeep() };
  }

  /**
   * Tells tasks that just asked (past the near places) where they stand. A place is the waiters of
   * its priority and better, less those of its priority behind it: one grouped count per pump, then
   * per asker a count of the few behind it (askers have mostly just joined near the end of their
   * priority), so a batch costs neither a count of the line per asker nor a numbering of the line.
   */
  private tellAskers(tell: readonly string[], nearCount: number, holder: string | null, notices: LineNotice[]): void {
    if (!tell.length) return;
    const perRank = this.sql.exec<{ rank: number; n: number }>("SELECT rank, COUNT(*) AS n FROM sfp_line WHERE holding = 0 GROUP BY rank").toArray();
    for (const taskId of tell) {
      const row = this.row(taskId);
      if (!row || row.holding) continue;
      const upTo = perRank.reduce((sum, r) => (r.rank <= row.rank ? sum + r.n : sum), 0);
      const behind = this.sql
        .exec<{ n: number }>(
          "SELECT COUNT(*) AS n FROM sfp_line WHERE holding = 0 AND rank = ? AND (created_at, seq) > (?, ?)",
          row.rank,
          row.created_at,
          row.seq,
        )
        .one().n;
      const position = upTo - behind;
      if (position > nearCount) this.tellIfChanged(row, position, holder, notices, true);
    }
  }

  /** The pass over waiters past the exact places: each is told when its place halved. */
  retell(): LineNotice[] {
    const notices: LineNotice[] = [];
    const holder = this.holder();
    // Only the waiters whose place halved (or who were never told) leave SQLite.
    const due = this.sql
      .exec<Row & { position: number }>(
        `SELECT * FROM (${NUMBERED}) WHERE position > ? AND (told_position IS NULL OR position * 2 <= told_position)`,
        EXACT_PLACES,
      )
      .toArray();
    for (const row of due) this.tellIfChanged(row, row.position, holder, notices, false);
    return notices;
  }

  /** The line as it stands (holders first), for tests and operators. */
  list(): { taskId: string; holding: boolean }[] {
    return this.sql
      .exec<Row>("SELECT * FROM sfp_line ORDER BY holding DESC, rank, created_at, seq")
      .toArray()
      .map((r) => ({ taskId: r.task_id, holding: r.holding === 1 }));
  }

  private tellIfChanged(row: Row, position: number, holder: string | null, notices: LineNotice[], exact: boolean): void {
    const told = row.told_position;
    const changed = exact ? told !== position || row.told_holder !== holder : told === null || position * 2 <= told;
    if (!changed) return;
    this.sql.exec("UPDATE sfp_line SET told_position = ?, told_holder = ? WHERE seq = ?", position, holder, row.seq);
    notices.push({ kind: "waiting", taskId: row.task_id, position, holder });
  }

  private row(taskId: string): Row | undefined {
    return this.sql.exec<Row>("SELECT * FROM sfp_line WHERE task_id = ?", taskId).toArray()[0];
  }

  private holder(): string | null {
    const row = this.sql.exec<{ task_id: string }>("SELECT task_id FROM sfp_line WHERE holding = 1 ORDER BY granted_at, seq LIMIT 1").toArray()[0];
    return row?.task_id ?? null;
  }
}
