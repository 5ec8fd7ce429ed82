// Offers (assignments, sfp_assignments): what a poll hands a runner, each with an accept deadline
// (`accept:<id>` timer). An offer is not a lease: the TaskActor's accept decides who holds the task.
// Every state change goes through `move`, which only makes the moves OFFER_TRANSITIONS allows.
import { newId } from "../protocol/index.ts";
import type { Timers } from "./timers.ts";

export const OFFER_STATES = ["offered", "accepted", "expired", "withdrawn"] as const;
export type OfferState = (typeof OFFER_STATES)[number];

export const OFFER_TRANSITIONS: Record<OfferState, readonly OfferState[]> = {
  // offered → accepted when the task grants the lease; → expired at the accept deadline or when its
  // runner is dropped; → withdrawn when the task no longer wants a runner (canceled, finished, leased).
  offered: ["accepted", "expired", "withdrawn"],
  // The task's grant is the authority: a grant whose answer was lost is recorded when the runner
  // retries, even if the offer ended here in the meantime.
  expired: ["accepted"],
  withdrawn: ["accepted"],
  accepted: [],
};

export function canMoveOffer(from: OfferState, to: OfferState): boolean {
  return OFFER_TRANSITIONS[from].includes(to);
}

/** The states an offer may move to `to` from, for the guard of the UPDATE that moves it. */
function sourcesOf(to: OfferState): OfferState[] {
  return OFFER_STATES.filter((from) => canMoveOffer(from, to));
}

export type AssignmentRow = { id: string; task_id: string; runner_id: string; accept_by: number; state: OfferState };

export class Offers {
  private readonly storage: DurableObjectStorage;
  private readonly timers: Timers;

  constructor(storage: DurableObjectStorage, timers: Timers) {
    this.storage = storage;
    this.timers = timers;
  }

  private get sql(): SqlStorage {
    return this.storage.sql;
  }

  /** A new offer of the task to the runner, open until `acceptBy`; answers its id. */
  make(taskId: string, runnerId: string, acceptBy: number): string {
    const id = newId("asg");
    this.sql.exec("INSERT INTO sfp_assignments (id, task_id, runner_id, accept_by, state) VALUES (?, ?, ?, ?, 'offered')", id, taskId, runnerId, acceptBy);
    this.timers.set(`accept:${id}`, acceptBy);
    return id;
  }

  get(id: string): AssignmentRow | undefined {
    return this.sql.exec<AssignmentRow>("SELECT * FROM sfp_assignments WHERE id = ?", id).toArray()[0];
  }

  /** How many of the runner's offers are open and not past their deadline. */
  pending(runnerId: string, now: number): number {
    return this.sql
      .exec<{ n: number }>("SELECT COUNT(*) AS n FROM sfp_assignments WHERE runner_id = ? AND state = 'offered' AND accept_by > ?", runnerId, now)
      .one().n;
  }

  /** The runner's open offers. */
  openOf(runnerId: string): AssignmentRow[] {
    return this.sql.exec<AssignmentRow>("SELECT * FROM sfp_assignments WHERE runner_id = ? AND state = 'offered'", runnerId).toArray();
  }

  /**
   * Moves the offer to `to` if OFFER_TRANSITIONS allows it from its state; false when it does not
   * (it already moved). Its accept deadline ends either way: only an open offer has one.
   */
  move(id: string, to: OfferState): boolean {
    const from = sourcesOf(to);
    const moved =
      this.sql.exec(`UPDATE sfp_assignments SET state = ? WHERE id = ? AND state IN (${from.map(() => "?").join(", ")})`, to, id, ...from).rowsWritten > 0;
    this.timers.clear(`accept:${id}`);
    return moved;
  }

  /** Withdraws every open offer of the task (it left the queue for good). */
  withdrawAll(taskId: string): void {
    for (const { id } of this.sql.exec<{ id: string }>("SELECT id FROM sfp_assignments WHERE task_id = ? AND state = 'offered'", taskId).toArray()) {
      this.move(id, "withdrawn");
    }
  }

  /** Forgets ended offers whose deadline is older than `before` (a late retry then gets a plain 409). */
  prune(before: number): void {
    const ended = OFFER_STATES.filter((s) => s !== "offered");
    this.sql.exec(`DELETE FROM sfp_assignments WHERE state IN (${ended.map(() => "?").join(", ")}) AND accept_by < ?`, ...ended, before);
  }
}
