// Named deadlines on top of the single Durable Object alarm: each concern (outbox retry, lease
// expiry, accept deadline…) sets its own timer, and the alarm fires at the earliest. Alarms are
// at-least-once, so handlers must be idempotent; `due` only reports timers whose time has come.
export const TIMERS_TABLE = "CREATE TABLE sfp_timers (name TEXT PRIMARY KEY, at INTEGER NOT NULL)";

export class Timers {
  private readonly storage: DurableObjectStorage;
  constructor(storage: DurableObjectStorage) {
    this.storage = storage;
  }

  set(name: string, at: number): void {
    this.storage.sql.exec("INSERT INTO sfp_timers (name, at) VALUES (?, ?) ON CONFLICT(name) DO UPDATE SET at = excluded.at", name, at);
  }

  clear(name: string): void {
    this.storage.sql.exec("DELETE FROM sfp_timers WHERE name = ?", name);
  }

  get(name: string): number | null {
    const row = this.storage.sql.exec<{ at: number }>("SELECT at FROM sfp_timers WHERE name = ?", name).toArray()[0];
    return row ? row.at : null;
  }

  /** Removes and returns the names of timers due at `now`. */
  takeDue(now: number): string[] {
    const names = this.storage.sql
      .exec<{ name: string }>("SELECT name FROM sfp_timers WHERE at <= ? ORDER BY at", now)
      .toArray()
      .map((r) => r.name);
    if (names.length) this.storage.sql.exec("DELETE FROM sfp_timers WHERE at <= ?", now);
    return names;
  }

  /** Points the alarm at the earliest timer (or clears it). Call after every change to the timers. */
  async arm(): Promise<void> {
    const row = this.storage.sql.exec<{ at: number | null }>("SELECT MIN(at) AS at FROM sfp_timers").one();
    if (row.at === null) await this.storage.deleteAlarm();
    else if ((await this.storage.getAlarm()) !== row.at) await this.storage.setAlarm(row.at);
  }
}
