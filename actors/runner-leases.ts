// The leases this pool's runners hold, as far as the pool knows (sfp_leases): the TaskActor owns the
// lease itself; this copy serves revocation (end a dropped runner's leases), cancel actions in
// heartbeat answers, and ephemeral runners (one job in their life).
export class RunnerLeases {
  private readonly storage: DurableObjectStorage;

  constructor(storage: DurableObjectStorage) {
    this.storage = storage;
  }

  private get sql(): SqlStorage {
    return this.storage.sql;
  }

  /** Records a granted lease; an older epoch never overwrites a newer one. */
  record(taskId: string, runnerId: string, epoch: number): void {
    this.sql.exec(
      `INSERT INTO sfp_leases (task_id, runner_id, epoch) VALUES (?, ?, ?)
       ON CONFLICT(task_id) DO UPDATE SET runner_id = excluded.runner_id, epoch = excluded.epoch WHERE excluded.epoch >= sfp_leases.epoch`,
      taskId,
      runnerId,
      epoch,
    );
  }

  /** Forgets whatever lease the task had (it is queued again). */
  forget(taskId: string): void {
    this.sql.exec("DELETE FROM sfp_leases WHERE task_id = ?", taskId);
  }

  /** Ends the task's lease up to `epoch`; answers the runner that held it, if one did. */
  release(taskId: string, epoch: number): string | undefined {
    const lease = this.sql.exec<{ runner_id: string }>("SELECT runner_id FROM sfp_leases WHERE task_id = ? AND epoch <= ?", taskId, epoch).toArray()[0];
    this.sql.exec("DELETE FROM sfp_leases WHERE task_id = ? AND epoch <= ?", taskId, epoch);
    return lease?.runner_id;
  }

  requestCancel(taskId: string, epoch: number): void {
    this.sql.exec("UPDATE sfp_leases SET cancel = 1 WHERE task_id = ? AND epoch = ?", taskId, epoch);
  }

  /** The runner's tasks whose cancel was requested, in id order. */
  cancelsOf(runnerId: string): string[] {
    return this.sql
      .exec<{ task_id: string }>("SELECT task_id FROM sfp_leases WHERE runner_id = ? AND cancel = 1 ORDER BY task_id", runnerId)
      .toArray()
      .map((r) => r.task_id);
  }

  countOf(runnerId: string): number {
    return this.sql.exec<{ n: number }>("SELECT COUNT(*) AS n FROM sfp_leases WHERE runner_id = ?", runnerId).one().n;
  }

  of(runnerId: string): { task_id: string; epoch: number }[] {
    return this.sql.exec<{ task_id: string; epoch: number }>("SELECT task_id, epoch FROM sfp_leases WHERE runner_id = ?", runnerId).toArray();
  }
}
