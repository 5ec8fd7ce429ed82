// Named deadlines on top of the single Durable Object alarm: each concern (outbox retry, lease
// expiry, accept deadline…) sets its own timer, and the alarm fires at the earliest. Alarms are
// at-least-once, so handlers must be idempotent; `due` only reports timers whose time has come.
export const TIMERS_TABLE = "CREATE TABLE sfp_timers (name TEXT PRIMARY KEY, at INTEGER NOT NULL)";

export class Timers {
  private readonly storage: DurableObjectStorage;
  /** What this instance last pointed the alarm at (undefined: unknown, e.g. once an alarm fired). */
  private armed: number | null | undefined = undefined;

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

  /** Removes and returns the names of timers due at `now` (the start of every alarm handler). */
  takeDue(now: number): string[] {
    // The alarm that is firing is spent: the next `arm` must set one whatever it last set.
    this.armed = undefined;
    const names = this.storage.sql
      .exec<{ name: string }>("SELECT name FROM sfp_timers WHERE at <= ? ORDER BY at", now)
      .toArray()
      .map((r) => r.name);
    if (names.length) this.storage.sql.exec("DELETE FROM sfp_timers WHERE at <= ?", now);
    return names;
  }

  /**
   * Points the alarm at the earliest timer (or clears it). Call after every change to the timers.
   * The alarm write is issued before this yields, so it joins the commit of the writes made just
   * before it: a timer set together with the work it guards is never left without its alarm.
   */
  arm(): Promise<void> {
    const at = this.storage.sql.exec<{ at: number | null }>("SELECT MIN(at) AS at FROM sfp_timers").one().at;
    if (at === this.armed) return Promise.resolve();
    this.armed = at;
    return at === null ? this.storage.deleteAlarm() : this.storage.setAlarm(at);
  }
}
