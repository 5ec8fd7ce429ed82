// Which TaskActors each token watches through a socket, so that revoking the token can close them.
// Why this mechanism: the edge forwards a task socket straight to its TaskActor, so the ProjectActor
// (which revokes) cannot see it. The TaskActor accepts the socket first and then asks here whether the
// token still lives; the answer and the row that records (token, task) are one step of this actor,
// so a revocation either comes before it (the socket closes with 4401 at once) or finds the row and
// tells that TaskActor (which already holds the socket). No periodic re-check is needed.

export class TokenWatches {
  private readonly sql: SqlStorage;

  constructor(sql: SqlStorage) {
    this.sql = sql;
  }

  record(tokenId: string, taskId: string): void {
    this.sql.exec("INSERT OR IGNORE INTO sfp_token_watches (token_id, task_id) VALUES (?, ?)", tokenId, taskId);
  }

  /** The tasks the token opened sockets on (a row leaves once that task was told, or finished). */
  tasksOf(tokenId: string): string[] {
    return this.sql
      .exec<{ task_id: string }>("SELECT task_id FROM sfp_token_watches WHERE token_id = ?", tokenId)
      .toArray()
      .map((r) => r.task_id);
  }

  forget(tokenId: string, taskId: string): void {
    this.sql.exec("DELETE FROM sfp_token_watches WHERE token_id = ? AND task_id = ?", tokenId, taskId);
  }

  /**
   * Has each task the token watches close its sockets (`close` tells that TaskActor). A row goes only
   * once its actor was told, and a failure throws, so a retried revocation finishes the job.
   */
  async closeAll(tokenId: string, close: (taskId: string) => Promise<void>): Promise<void> {
    const results = await Promise.allSettled(
      this.tasksOf(tokenId).map(async (taskId) => {
        await close(taskId);
        this.forget(tokenId, taskId);
      }),
    );
    const failed = results.find((r) => r.status === "rejected");
    if (failed) throw failed.reason;
  }

  /** A finished task's sockets close by themselves (task-watchers.ts), so its rows can go. */
  taskFinished(taskId: string): void {
    this.sql.exec("DELETE FROM sfp_token_watches WHERE task_id = ?", taskId);
  }
}
