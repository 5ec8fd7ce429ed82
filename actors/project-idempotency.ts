// Idempotency-Keys of task creation: a key names one task id for 24 h.
import { IDEMPOTENCY_KEY_SECONDS, rpcError } from "../protocol/index.ts";

const IDEMPOTENCY_TTL_MS = IDEMPOTENCY_KEY_SECONDS * 1000;

export class IdempotencyKeys {
  private readonly sql: SqlStorage;

  constructor(sql: SqlStorage) {
    this.sql = sql;
  }

  /**
   * Claims `key` for a task id, or answers the id it already names. The same key with a different
   * request body is a conflict rather than a silent reuse.
   */
  claim(key: string, bodyHash: string, taskId: string, now = Date.now()): string {
    this.sql.exec("DELETE FROM sfp_idempotency WHERE expires_at <= ?", now);
    const row = this.sql.exec<{ body_hash: string; task_id: string }>("SELECT body_hash, task_id FROM sfp_idempotency WHERE key = ?", key).toArray()[0];
    if (row) {
      if (row.body_hash !== bodyHash) throw rpcError("conflict", "Idempotency-Key was already used with a different request body");
      return row.task_id;
    }
    this.sql.exec("INSERT INTO sfp_idempotency (key, body_hash, task_id, expires_at) VALUES (?, ?, ?, ?)", key, bodyHash, taskId, now + IDEMPOTENCY_TTL_MS);
    return taskId;
  }
}
