// The contract's limits, written once: the edge enforces them, the runner and the CLI stay inside
// them, and README "Limits" and the OpenAPI document state them. Change one here and every side moves.

/** Any API request body (413 `too_large` above it); webhook deliveries have their own limit. */
export const MAX_API_BODY_BYTES = 1024 * 1024;
/** A webhook delivery's body: refused with 413 before it is read in full. */
export const MAX_WEBHOOK_BODY_BYTES = 1024 * 1024;
/** A task's `payload` as JSON (deploy zips travel by `zipUrl`). */
export const MAX_PAYLOAD_BYTES = 256 * 1024;

/** `?wait=` of a task long-poll (`GET /v1/tasks/:id?wait=&version=`). */
export const MAX_LONG_POLL_SECONDS = 30;
/** A runner poll's `waitSeconds`, and the most an edge parks one. */
export const MAX_RUNNER_POLL_SECONDS = 25;
/** A runner renews its job's lease this many times per lease: every third of it. */
export const LEASE_RENEWALS_PER_LEASE = 3;

/** `?limit=` of an events page. */
export const MAX_EVENTS_PAGE = 1_000;
export const DEFAULT_EVENTS_PAGE = 100;
/** `?limit=` of a task list. */
export const MAX_TASK_LIST = 200;
export const DEFAULT_TASK_LIST = 50;

/** Events in one runner events POST. */
export const MAX_EVENT_BATCH = 500;
/** Characters of one log line, and lines of one log event. */
export const MAX_LOG_LINE_CHARS = 16_384;
export const MAX_LOG_LINES_PER_EVENT = 1_000;
/** Characters of a progress step and message. */
export const MAX_PROGRESS_STEP_CHARS = 200;
export const MAX_PROGRESS_MESSAGE_CHARS = 2_000;
/** Characters of a task error's code and message. */
export const MAX_ERROR_CODE_CHARS = 100;
export const MAX_ERROR_MESSAGE_CHARS = 10_000;

/** A task's `maxAttempts` and `timeoutSeconds`. */
export const MAX_ATTEMPTS_LIMIT = 10;
export const MAX_TIMEOUT_SECONDS = 24 * 3600;

/** How long an Idempotency-Key, a webhook delivery id and a WebSocket ticket are remembered. */
export const IDEMPOTENCY_KEY_SECONDS = 24 * 3600;
export const WEBHOOK_DELIVERY_MEMORY_SECONDS = 72 * 3600;
export const WS_TICKET_SECONDS = 60;
/** A revoked token or deleted source stops working at every other edge within this. */
export const REVOCATION_SECONDS = 30;

/** How far ahead a task's `runAt` may be (issue 15). */
export const MAX_RUN_AT_DAYS = 366;
/** Schedules (issue 15): per project, and the next runs / last runs a listing may ask for. */
export const MAX_SCHEDULES_PER_PROJECT = 100;
export const MAX_SCHEDULE_NEXT_RUNS = 50;
export const MAX_SCHEDULE_RUNS_KEPT = 200;
/** A slot this late when its alarm runs counts as missed (the `missed` policy decides what happens to it). */
export const SCHEDULE_MISSED_GRACE_SECONDS = 60;
/** The project feed replays at most this many messages, none older than this (past it: `reset`). */
export const FEED_REPLAY_MESSAGES = 1_000;
export const FEED_REPLAY_SECONDS = 600;
/** A task's progress reaches the project feed at most this often (status changes always do). */
export const FEED_PROGRESS_SECONDS = 2;
/** A runner's load reaches the project feed at most this often. */
export const FEED_RUNNER_SECONDS = 2;
