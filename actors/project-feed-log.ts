// The project feed's seq and replay window (sfp_feed_seq, sfp_feed): every feed message takes the
// next seq; task messages are kept for FEED_REPLAY_MESSAGES / FEED_REPLAY_SECONDS so a client that
// reconnects with ?after= gets exactly what it missed. Runner messages take a seq but are not kept:
// they are gauges, and the next one replaces them.
import { FEED_REPLAY_MESSAGES, FEED_REPLAY_SECONDS } from "../protocol/index.ts";

/** What a resume from `after` finds: the kept messages after it, or that it is outside the window. */
export type Replay = { reset: false; texts: string[] } | { reset: true; lastSeq: number };

/**
 * How far an append lets the kept messages overrun the window before it cuts them back. A replay
 * always cuts exactly first, so what a client is told does not change; the slack only spares every
 * append the counting and scanning an exact cut costs (5% of B2's samples when it ran per message).
 */
const PRUNE_SLACK_MESSAGES = 100;
const PRUNE_SLACK_MS = 30_000;

export class FeedLog {
  private readonly sql: SqlStorage;
  /** Kept messages and the oldest one's time, as last read (memory only: re-read after every cut). */
  private kept: { count: number; oldestAt: number | null } | null = null;

  constructor(sql: SqlStorage) {
    this.sql = sql;
  }

  /** The seq of the newest feed message (0 before the first). */
  last(): number {
    return this.sql.exec<{ last: number }>("SELECT last FROM sfp_feed_seq WHERE id = 1").one().last;
  }

  /**
   * Numbers the messages (`frame(seq)` serializes one), keeps them when `keep`, and answers the
   * frames; one commit with the caller's, as actor storage batches a turn's writes.
   */
  append(frames: ((seq: number) => string)[], keep: boolean, now = Date.now()): string[] {
    let seq = this.last();
    const texts = frames.map((frame) => {
      seq++;
      const text = frame(seq);
      if (keep) this.sql.exec("INSERT INTO sfp_feed (seq, at, body) VALUES (?, ?, ?)", seq, now, text);
      return text;
    });
    this.sql.exec("UPDATE sfp_feed_seq SET last = ? WHERE id = 1", seq);
    if (keep) this.pruneIfOverrun(now, frames.length);
    return texts;
  }

  private pruneIfOverrun(now: number, added: number): void {
    if (this.kept) this.kept.count += added;
    else this.kept = this.readKept();
    const { count, oldestAt } = this.kept;
    const aged = oldestAt !== null && oldestAt < now - FEED_REPLAY_SECONDS * 1000 - PRUNE_SLACK_MS;
    if (count > FEED_REPLAY_MESSAGES + PRUNE_SLACK_MESSAGES || aged) this.prune(now);
  }

  private readKept(): { count: number; oldestAt: number | null } {
    const count = this.sql.exec<{ n: number }>("SELECT COUNT(*) AS n FROM sfp_feed").one().n;
    const oldestAt = this.sql.exec<{ at: number }>("SELECT at FROM sfp_feed ORDER BY seq LIMIT 1").toArray()[0]?.at ?? null;
    return { count, oldestAt };
  }

  /** The kept messages with seq in (after, upTo], or reset when some of them were pruned (or `after` is ahead). */
  replay(after: number, upTo: number, now = Date.now()): Replay {
    this.prune(now);
    const { last, pruned } = this.sql.exec<{ last: number; pruned: number }>("SELECT last, pruned FROM sfp_feed_seq WHERE id = 1").one();
    if (after < pruned || after > last) return { reset: true, lastSeq: last };
    const texts = this.sql
      .exec<{ body: string }>("SELECT body FROM sfp_feed WHERE seq > ? AND seq <= ? ORDER BY seq", after, upTo)
      .toArray()
      .map((r) => r.body);
    return { reset: false, texts };
  }

  /** Drops what is past the window, remembering the highest seq dropped. */
  private prune(now: number): void {
    const { count: kept, oldestAt } = this.readKept();
    if (oldestAt === null) return;
    const tooOld = now - FEED_REPLAY_SECONDS * 1000;
    if (oldestAt >= tooOld && kept <= FEED_REPLAY_MESSAGES) return;
    // Keep the newest FEED_REPLAY_MESSAGES that are young enough: the cut is the highest seq that goes.
    const cutByCount =
      kept > FEED_REPLAY_MESSAGES
        ? this.sql.exec<{ seq: number }>("SELECT seq FROM sfp_feed ORDER BY seq DESC LIMIT 1 OFFSET ?", FEED_REPLAY_MESSAGES).one().seq
        : 0;
    const cutByAge = this.sql.exec<{ seq: number | null }>("SELECT MAX(seq) AS seq FROM sfp_feed WHERE at < ?", tooOld).one().seq ?? 0;
    const cut = Math.max(cutByCount, cutByAge);
    if (!cut) return;
    this.sql.exec("DELETE FROM sfp_feed WHERE seq <= ?", cut);
    this.sql.exec("UPDATE sfp_feed_seq SET pruned = MAX(pruned, ?) WHERE id = 1", cut);
    this.kept = null;
  }
}
