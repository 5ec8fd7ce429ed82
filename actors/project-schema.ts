// Every table of the ProjectActor, in one ordered list: a migration's position is its version, so
// applied ones are never reordered or edited; new ones go at the end.
import type { Migration } from "./sql.ts";
import { TIMERS_TABLE } from "./timers.ts";

export const PROJECT_MIGRATIONS: readonly Migration[] = [
  [
    "CREATE TABLE sfp_project (id TEXT PRIMARY KEY, name TEXT NOT NULL, created_at TEXT NOT NULL)",
    `CREATE TABLE sfp_tokens (id TEXT PRIMARY KEY, name TEXT NOT NULL, role TEXT NOT NULL, hash TEXT NOT NULL,
       created_at TEXT NOT NULL, expires_at TEXT, revoked_at TEXT)`,
    `CREATE TABLE sfp_orgs (alias TEXT PRIMARY KEY, pool TEXT NOT NULL, org_id TEXT, instance_url TEXT,
       is_production INTEGER NOT NULL, updated_at TEXT NOT NULL)`,
    // The task index: one row per task, as of its last status change (the TaskActor is authoritative).
    `CREATE TABLE sfp_tasks (id TEXT PRIMARY KEY, created_at TEXT NOT NULL, status TEXT NOT NULL,
       version INTEGER NOT NULL, body TEXT NOT NULL)`,
    "CREATE INDEX sfp_tasks_by_time ON sfp_tasks (created_at DESC, id DESC)",
    "CREATE TABLE sfp_idempotency (key TEXT PRIMARY KEY, body_hash TEXT NOT NULL, task_id TEXT NOT NULL, expires_at INTEGER NOT NULL)",
    "CREATE TABLE sfp_tickets (id TEXT PRIMARY KEY, expires_at INTEGER NOT NULL)",
  ],
  // webhook sources: the secret is stored so the edge can verify deliveries; no API returns it.
  [
    `CREATE TABLE sfp_webhook_sources (name TEXT PRIMARY KEY, id TEXT NOT NULL UNIQUE, kind TEXT NOT NULL, secret TEXT,
       org_id TEXT, rules TEXT NOT NULL, created_at TEXT NOT NULL, updated_at TEXT NOT NULL)`,
  ],
  // runner registration (issue 4): registration tokens as hashes with their remaining uses, and the
  // runners the project has seen with their pool, so owners can list and revoke across pools.
  [
    `CREATE TABLE sfp_registration_tokens (id TEXT PRIMARY KEY, hash TEXT NOT NULL, pool TEXT NOT NULL, labels TEXT NOT NULL,
       uses_left INTEGER NOT NULL, expires_at INTEGER NOT NULL, created_at TEXT NOT NULL)`,
    "CREATE TABLE sfp_runner_index (id TEXT PRIMARY KEY, pool TEXT NOT NULL, registered_at TEXT NOT NULL, revoked_at TEXT)",
  ],
  // issue 11: a ticket remembers the token that asked for it, so a token revoked (or expired) after
  // the ticket was minted opens no socket with it.
  ["ALTER TABLE sfp_tickets ADD COLUMN token_id TEXT"],
  // issue 11: a source's URL can be rotated (a new id); re-deliveries are recognised, and webhook task
  // ids derived, by the key it was born with, which is the first id (existing sources: their id).
  ["ALTER TABLE sfp_webhook_sources ADD COLUMN dedupe_key TEXT", "UPDATE sfp_webhook_sources SET dedupe_key = id"],
  // issue 11: the TaskActors each token watches through a socket, so revocation can close them
  // (project-watchers.ts).
  ["CREATE TABLE sfp_token_watches (token_id TEXT NOT NULL, task_id TEXT NOT NULL, PRIMARY KEY (token_id, task_id))"],
  // issue 14: outbound notifications (notify-*.ts) — endpoints with sealed signing secrets, their
  // deliveries, commit statuses owed to GitHub/GitLab, the sealed status token of each source — and
  // the timers that retry them.
  [
    `CREATE TABLE sfp_notify_endpoints (name TEXT PRIMARY KEY, url TEXT NOT NULL, events TEXT NOT NULL, enabled INTEGER NOT NULL,
       disabled_reason TEXT, secret TEXT NOT NULL, previous_secret TEXT, previous_until INTEGER, secret_rotated_at TEXT,
       last_success_at INTEGER, origin TEXT, created_at TEXT NOT NULL, updated_at TEXT NOT NULL)`,
    `CREATE TABLE sfp_notify_deliveries (id TEXT PRIMARY KEY, endpoint TEXT NOT NULL, event TEXT NOT NULL, task_id TEXT, body TEXT NOT NULL,
       status TEXT NOT NULL, attempts INTEGER NOT NULL DEFAULT 0, tries INTEGER NOT NULL DEFAULT 0, last_code INTEGER, last_at INTEGER,
       next_at INTEGER, created_at INTEGER NOT NULL, dedupe TEXT NOT NULL UNIQUE)`,
    "CREATE INDEX sfp_notify_deliveries_due ON sfp_notify_deliveries (status, next_at)",
    "CREATE INDEX sfp_notify_deliveries_by_endpoint ON sfp_notify_deliveries (endpoint, created_at DESC)",
    `CREATE TABLE sfp_commit_statuses (id INTEGER PRIMARY KEY AUTOINCREMENT, task_id TEXT NOT NULL, source TEXT NOT NULL, provider TEXT NOT NULL,
       repo TEXT NOT NULL, sha TEXT NOT NULL, body TEXT NOT NULL, status TEXT NOT NULL, tries INTEGER NOT NULL DEFAULT 0, last_code INTEGER,
       next_at INTEGER, created_at INTEGER NOT NULL, dedupe TEXT NOT NULL UNIQUE)`,
    "CREATE INDEX sfp_commit_statuses_due ON sfp_commit_statuses (status, next_at)",
    `CREATE TABLE sfp_source_status (source TEXT PRIMARY KEY, token TEXT NOT NULL, api_url TEXT, origin TEXT,
       error_code TEXT, error_message TEXT, error_at TEXT)`,
    TIMERS_TABLE,
  ],
  // issue 13: the org lock and protected orgs. `protected` NULL means "as isProduction".
  [
    "ALTER TABLE sfp_orgs ADD COLUMN protected INTEGER",
    "ALTER TABLE sfp_orgs ADD COLUMN max_concurrent_deploys INTEGER NOT NULL DEFAULT 1",
    "ALTER TABLE sfp_orgs ADD COLUMN approval_timeout_seconds INTEGER NOT NULL DEFAULT 86400",
  ],
  // issue 16: the project feed resumes (project-feed.ts): its seq, the highest seq pruned from the
  // replay window, and the task messages in that window.
  [
    "CREATE TABLE sfp_feed_seq (id INTEGER PRIMARY KEY CHECK (id = 1), last INTEGER NOT NULL, pruned INTEGER NOT NULL)",
    "INSERT INTO sfp_feed_seq (id, last, pruned) VALUES (1, 0, 0)",
    "CREATE TABLE sfp_feed (seq INTEGER PRIMARY KEY, at INTEGER NOT NULL, body TEXT NOT NULL)",
  ],
  // issue 15: Platform Event subscriptions, each with its one lease (holder, epoch, expiry) and the
  // replay id its subscribers resume after (project-subscriptions.ts).
  [
    `CREATE TABLE sfp_event_subscriptions (name TEXT PRIMARY KEY, org TEXT NOT NULL, channel TEXT NOT NULL, source TEXT NOT NULL,
       enabled INTEGER NOT NULL, replay_id INTEGER, holder TEXT, epoch INTEGER NOT NULL DEFAULT 0, expires_at INTEGER,
       created_at TEXT NOT NULL, updated_at TEXT NOT NULL, UNIQUE (org, channel))`,
  ],
];
