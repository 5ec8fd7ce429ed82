// The long-polls runners park at their dispatcher, in memory only: an evicted actor fails them and
// the edge asks again, while the offers already made are stored and end at their accept deadline.
import type { Assignment } from "../protocol/index.ts";

export interface Parked {
  readonly runnerId: string;
  readonly freeSlots: number;
}

interface Waiting extends Parked {
  resolve: (offers: Assignment[]) => void;
  timer: ReturnType<typeof setTimeout>;
}

export class ParkedPolls {
  private parked: Waiting[] = [];

  /**
   * Parks the runner's poll until `answer` or `waitSeconds` (then an empty answer). One parked poll
   * per runner: a newer one means the older one's connection is gone, so the older is answered empty.
   */
  park(runnerId: string, freeSlots: number, waitSeconds: number): Promise<Assignment[]> {
    this.release(runnerId);
    return new Promise<Assignment[]>((resolve) => {
      const parked: Waiting = { runnerId, freeSlots, resolve, timer: setTimeout(() => this.answer(parked, []), waitSeconds * 1000) };
      this.parked.push(parked);
    });
  }

  /** The parked polls, oldest first (a copy: answering one changes the list). */
  all(): Parked[] {
    return [...this.parked];
  }

  answer(parked: Parked, offers: Assignment[]): void {
    const waiting = this.parked.find((p) => p === parked);
    if (!waiting) return;
    clearTimeout(waiting.timer);
    this.parked = this.parked.filter((p) => p !== waiting);
    waiting.resolve(offers);
  }

  /** Answers the runner's parked polls with nothing (it drains, or is gone). */
  release(runnerId: string): void {
    for (const p of this.parked.filter((p) => p.runnerId === runnerId)) this.answer(p, []);
  }
}
