// The DispatcherActor's storage: one ordered list of migrations for all its tables (append only: a
// deployed actor has run the earlier ones). Each dispatch module reads and writes its own tables.
import type { Migration } from "./sql.ts";
import { TIMERS_TABLE } from "./timers.ts";

export const MIGRATIONS: readonly Migration[] = [
  [
    `CREATE TABLE sfp_queue (task_id TEXT PRIMARY KEY, rank INTEGER NOT NULL, created_at TEXT NOT NULL,
       attempt INTEGER NOT NULL, labels TEXT NOT NULL, enqueued_at INTEGER NOT NULL)`,
    "CREATE INDEX sfp_queue_order ON sfp_queue (rank, created_at, task_id)",
  ],
  [
    // The offer a queued task is under, if any: such a task is not offered to anyone else.
    "ALTER TABLE sfp_queue ADD COLUMN assignment_id TEXT",
    // gone: null while registered, else 'deregistered' or 'revoked' (kept so their calls answer 401).
    `CREATE TABLE sfp_runners (id TEXT PRIMARY KEY, name TEXT NOT NULL, labels TEXT NOT NULL, slots INTEGER NOT NULL,
       ephemeral INTEGER NOT NULL, version TEXT NOT NULL, state TEXT NOT NULL, free_slots INTEGER NOT NULL,
       active_tasks TEXT NOT NULL, resources TEXT, registered_at TEXT NOT NULL, last_seen INTEGER NOT NULL,
       drain INTEGER NOT NULL DEFAULT 0, jobs INTEGER NOT NULL DEFAULT 0, gone TEXT)`,
    // state: offered | accepted | expired | withdrawn (dispatch-offers.ts OFFER_TRANSITIONS)
    `CREATE TABLE sfp_assignments (id TEXT PRIMARY KEY, task_id TEXT NOT NULL, runner_id TEXT NOT NULL,
       accept_by INTEGER NOT NULL, state TEXT NOT NULL)`,
    "CREATE INDEX sfp_assignments_by_task ON sfp_assignments (task_id)",
    "CREATE INDEX sfp_assignments_by_runner ON sfp_assignments (runner_id, state)",
    // The leases runners hold, as far as this pool knows: for revocation, cancel actions, ephemeral runners.
    "CREATE TABLE sfp_leases (task_id TEXT PRIMARY KEY, runner_id TEXT NOT NULL, epoch INTEGER NOT NULL, cancel INTEGER NOT NULL DEFAULT 0)",
    "CREATE INDEX sfp_leases_by_runner ON sfp_leases (runner_id)",
    // The highest attempt of each task that has left the queue, so that a late or repeated enqueue
    // from a TaskActor's outbox (at-least-once) never puts an accepted or finished attempt back.
    "CREATE TABLE sfp_left (task_id TEXT PRIMARY KEY, attempt INTEGER NOT NULL, at INTEGER NOT NULL)",
    "CREATE TABLE sfp_meta (key TEXT PRIMARY KEY, value TEXT NOT NULL)",
    TIMERS_TABLE,
  ],
  [
    // The queue grouped by label set (dispatch-queue.ts): an offer tests a runner's labels against
    // each distinct set once and reads only the heads of the sets it has, never the tasks it cannot take.
    "CREATE TABLE sfp_label_sets (id INTEGER PRIMARY KEY, labels TEXT NOT NULL UNIQUE)",
    // null: refused at admission (too many distinct label sets, and no runner ever had this one).
    "ALTER TABLE sfp_queue ADD COLUMN label_set INTEGER",
    "INSERT OR IGNORE INTO sfp_label_sets (labels) SELECT DISTINCT labels FROM sfp_queue ORDER BY labels",
    "UPDATE sfp_queue SET label_set = (SELECT id FROM sfp_label_sets WHERE sfp_label_sets.labels = sfp_queue.labels)",
    "CREATE INDEX sfp_queue_by_set ON sfp_queue (label_set, rank, created_at, task_id)",
    // Every label set a runner of the pool has registered with, kept after it is gone (ephemeral
    // runners come and go): a new label set among these is never refused.
    "CREATE TABLE sfp_runner_label_sets (labels TEXT PRIMARY KEY)",
    "INSERT OR IGNORE INTO sfp_runner_label_sets (labels) SELECT DISTINCT labels FROM sfp_runners",
    // Every queued task has a TTL timer: arming the alarm (MIN(at), on every poll) must not scan them.
    "CREATE INDEX sfp_timers_by_at ON sfp_timers (at)",
  ],
  [
    // 1: the entry came from the edge's early enqueue (edge/new-task.ts) and its task's own outbox has
    // not yet repeated it, so the task may not exist; such a row leaves without a departure (dispatch-queue.ts).
    "ALTER TABLE sfp_queue ADD COLUMN early INTEGER NOT NULL DEFAULT 0",
  ],
];
