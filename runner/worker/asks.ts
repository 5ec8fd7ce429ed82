// The worker's questions to its manager over IPC (its org, its repository's token, an artifact upload,
// a checkpoint), each answered by a manager message of the same type and key: one pending promise per
// question, settled by its answer, or by a stand-in when the manager goes away.
import type { ManagerToWorker } from "../ipc.ts";

/** The manager messages that answer a question. */
export type Answer = Extract<ManagerToWorker, { type: "auth" | "repo" | "artifact" | "checkpoint" }>;

/** Which question an answer settles: its type, and what tells two of that type apart. */
export function answerKey(answer: Answer): string {
  if (answer.type === "artifact") return `artifact:${answer.name}`;
  if (answer.type === "checkpoint") return `checkpoint:${answer.ref}`;
  return answer.type;
}

export class PendingAsks {
  private readonly pending = new Map<string, { resolve: (answer: Answer) => void; gone: () => Answer }>();

  /** Sends a question and waits for the answer with `key`; `gone` is the answer when the manager goes away. */
  ask<A extends Answer>(key: string, send: () => void, gone: () => A): Promise<A> {
    return new Promise<A>((resolve) => {
      this.pending.set(key, { resolve: resolve as (answer: Answer) => void, gone });
      send();
    });
  }

  /** Settles the question this answer is for (an answer nobody waits for is dropped). */
  answer(answer: Answer): void {
    const key = answerKey(answer);
    const waiting = this.pending.get(key);
    this.pending.delete(key);
    waiting?.resolve(answer);
  }

  /** The manager is gone: every open question gets its stand-in answer. */
  settleAll(): void {
    for (const { resolve, gone } of this.pending.values()) resolve(gone());
    this.pending.clear();
  }
}
