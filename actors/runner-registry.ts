// A pool's runners (sfp_runners): who registered with which labels and slots, what each last reported,
// and whether it is gone. A gone runner's row stays ('deregistered' or 'revoked') so that its calls
// keep answering 401 instead of looking like a new runner.
import { rpcError, type Resources, type RunnerHeartbeatBody, type RunnerInfo } from "../protocol/index.ts";
import { nowIso } from "./sql.ts";

export interface NewRunner {
  id: string;
  name: string;
  labels: string[];
  slots: number;
  ephemeral: boolean;
  version: string;
}

export type RunnerRow = {
  id: string;
  name: string;
  labels: string;
  slots: number;
  ephemeral: number;
  version: string;
  state: RunnerInfo["state"];
  free_slots: number;
  active_tasks: string;
  resources: string | null;
  registered_at: string;
  last_seen: number;
  drain: number;
  jobs: number;
  gone: string | null;
};

export type Departure = "deregistered" | "revoked";

export class RunnerRegistry {
  private readonly storage: DurableObjectStorage;

  constructor(storage: DurableObjectStorage) {
    this.storage = storage;
  }

  private get sql(): SqlStorage {
    return this.storage.sql;
  }

  /** Registers a runner (a repeat of the same id changes nothing). */
  add(runner: NewRunner, now: number): void {
    const labels = JSON.stringify([...new Set(runner.labels)].sort());
    this.sql.exec("INSERT OR IGNORE INTO sfp_runner_label_sets (labels) VALUES (?)", labels);
    this.sql.exec(
      `INSERT INTO sfp_runners (id, name, labels, slots, ephemeral, version, state, free_slots, active_tasks, registered_at, last_seen)
       VALUES (?, ?, ?, ?, ?, ?, 'idle', ?, '[]', ?, ?) ON CONFLICT(id) DO NOTHING`,
      runner.id,
      runner.name,
      labels,
      runner.slots,
      runner.ephemeral ? 1 : 0,
      runner.version,
      runner.slots,
      nowIso(now),
      now,
    );
  }

  get(runnerId: string): RunnerRow | undefined {
    return this.sql.exec<RunnerRow>("SELECT * FROM sfp_runners WHERE id = ?", runnerId).toArray()[0];
  }

  /** The runner, or 401: unknown, revoked and deregistered runners look alike to their caller. */
  live(runnerId: string): RunnerRow {
    const runner = this.get(runnerId);
    if (!runner || runner.gone) throw rpcError("unauthenticated", "this runner is revoked, deregistered or unknown");
    return runner;
  }

  /** A poll: the runner is alive and has this many free slots. */
  polled(runnerId: string, freeSlots: number, now: number): void {
    this.sql.exec("UPDATE sfp_runners SET last_seen = ?, free_slots = ? WHERE id = ?", now, freeSlots, runnerId);
  }

  /** A heartbeat: what the runner reports of itself. */
  reported(runnerId: string, body: RunnerHeartbeatBody, now: number): void {
    this.sql.exec(
      "UPDATE sfp_runners SET state = ?, free_slots = ?, active_tasks = ?, resources = ?, last_seen = ? WHERE id = ?",
      body.state,
      body.freeSlots,
      JSON.stringify(body.activeTasks),
      JSON.stringify(body.resources),
      now,
      runnerId,
    );
  }

  /** One more job accepted by the runner. */
  countJob(runnerId: string, now: number): void {
    this.sql.exec("UPDATE sfp_runners SET jobs = jobs + 1, last_seen = ? WHERE id = ?", now, runnerId);
  }

  markGone(runnerId: string, why: Departure): void {
    this.sql.exec("UPDATE sfp_runners SET gone = ? WHERE id = ?", why, runnerId);
  }

  markDrain(runnerId: string): void {
    this.sql.exec("UPDATE sfp_runners SET drain = 1 WHERE id = ?", runnerId);
  }

  /** The registered runners as the owner sees them; one silent for `offlineAfterMs` is offline. */
  list(pool: string, offlineAfterMs: number, now: number): RunnerInfo[] {
    return this.sql
      .exec<RunnerRow>("SELECT * FROM sfp_runners WHERE gone IS NULL ORDER BY registered_at, id")
      .toArray()
      .map((r) => ({
        id: r.id,
        name: r.name,
        pool,
        labels: labelsOf(r),
        slots: r.slots,
        ephemeral: r.ephemeral === 1,
        version: r.version,
        state: now - r.last_seen > offlineAfterMs ? "offline" : r.drain ? "draining" : r.state,
        freeSlots: r.free_slots,
        activeTasks: JSON.parse(r.active_tasks) as string[],
        resources: r.resources ? (JSON.parse(r.resources) as Resources) : null,
        registeredAt: r.registered_at,
        lastSeenAt: nowIso(r.last_seen),
      }));
  }

  /** Whether some registered runner has all of `labels`. */
  someoneHas(labels: readonly string[]): boolean {
    return this.sql
      .exec<{ labels: string }>("SELECT labels FROM sfp_runners WHERE gone IS NULL")
      .toArray()
      .some((r) => hasAll(r.labels, labels));
  }

  /** Whether some runner of the pool, registered now or before, has all of `labels`. */
  everHad(labels: readonly string[]): boolean {
    return this.sql
      .exec<{ labels: string }>("SELECT labels FROM sfp_runner_label_sets")
      .toArray()
      .some((r) => hasAll(r.labels, labels));
  }
}

export function labelsOf(runner: RunnerRow): string[] {
  return JSON.parse(runner.labels) as string[];
}

/** Whether the stored label list (JSON) holds every one of `labels`. */
function hasAll(stored: string, labels: readonly string[]): boolean {
  const has = new Set(JSON.parse(stored) as string[]);
  return labels.every((l) => has.has(l));
}
