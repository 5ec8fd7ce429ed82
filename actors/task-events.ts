// A task's history: its gapless events (seq 1, 2, …; the task's version is the last seq) and its log
// lines, each stored with the byte offset of its end so a `Range: bytes=N-` read starts without a
// scan. Every read is a bounded page: nothing here loads a whole history at once.
import {
  MAX_EVENTS_PAGE,
  type ApprovalEvent,
  type Artifact,
  type LockEvent,
  type Progress,
  type TaskErrorInfo,
  type TaskEvent,
  type TaskStatus,
} from "../protocol/index.ts";
import type { CheckpointDraft } from "./task-checkpoint.ts";

/** An event before it has its seq and time. */
export type EventDraft =
  | { type: "status"; status: TaskStatus; attempt: number; error?: TaskErrorInfo }
  | ({ type: "progress" } & Progress)
  | { type: "log"; lines: string[] }
  | { type: "result"; result: unknown }
  | { type: "artifact"; artifact: Artifact }
  | Omit<LockEvent, "seq" | "at">
  | Omit<ApprovalEvent, "seq" | "at">
  | CheckpointDraft;

/** The most log bytes one `GET /v1/tasks/:id/logs` answer carries (README "Limits"). */
export const LOG_PAGE_BYTES = 1024 * 1024;

/** An event as stored: its seq and its JSON, sent on as it is. */
export interface StoredEvent {
  seq: number;
  json: string;
}

/** Log bytes [start, end) of a log of `total` bytes. */
export interface LogPage {
  text: string;
  start: number;
  end: number;
  total: number;
}

const utf8 = new TextEncoder();
const fromUtf8 = new TextDecoder();

export class TaskEventStore {
  private readonly sql: SqlStorage;

  constructor(sql: SqlStorage) {
    this.sql = sql;
  }

  /**
   * Stores the drafts as the events after `version`, each at `at`, and the lines of log events with
   * their byte ends. Synchronous: it joins the commit of the change it records.
   */
  append(version: number, drafts: readonly EventDraft[], at: string): TaskEvent[] {
    const events: TaskEvent[] = [];
    let seq = version;
    let logEnd = drafts.some((d) => d.type === "log") ? this.logSize() : 0;
    for (const draft of drafts) {
      seq += 1;
      const event: TaskEvent = { ...draft, seq, at };
      events.push(event);
      this.sql.exec("INSERT INTO sfp_events (seq, body) VALUES (?, ?)", seq, JSON.stringify(event));
      if (draft.type !== "log") continue;
      for (const line of draft.lines) {
        logEnd += utf8.encode(`${line}\n`).length;
        this.sql.exec("INSERT INTO sfp_log (text, end_byte) VALUES (?, ?)", line, logEnd);
      }
    }
    return events;
  }

  /** Up to `limit` events after seq `after`, in seq order. */
  after(after: number, limit: number): TaskEvent[] {
    const n = Math.max(1, Math.min(limit, MAX_EVENTS_PAGE));
    return this.sql
      .exec<{ body: string }>("SELECT body FROM sfp_events WHERE seq > ? ORDER BY seq LIMIT ?", after, n)
      .toArray()
      .map((r): TaskEvent => JSON.parse(r.body));
  }

  /**
   * The stored events in (after, upTo], in seq order: at most `maxEvents`, and no more than
   * `maxChars` of JSON unless the first event alone is larger (a page always moves on).
   */
  page(after: number, upTo: number, maxEvents: number, maxChars: number): StoredEvent[] {
    const out: StoredEvent[] = [];
    let chars = 0;
    const rows = this.sql.exec<{ seq: number; body: string }>(
      "SELECT seq, body FROM sfp_events WHERE seq > ? AND seq <= ? ORDER BY seq LIMIT ?",
      after,
      upTo,
      maxEvents,
    );
    for (const row of rows) {
      if (out.length && chars + row.body.length > maxChars) break;
      chars += row.body.length;
      out.push({ seq: row.seq, json: row.body });
    }
    return out;
  }

  /** The log's size in bytes. */
  logSize(): number {
    return this.sql.exec<{ t: number | null }>("SELECT MAX(end_byte) AS t FROM sfp_log").one().t ?? 0;
  }

  /**
   * Log bytes from `from` on, at most `maxBytes` of them, ending at a line's end unless a single
   * line does not fit (then at a character boundary inside it). The text is built once.
   */
  readLog(from: number, maxBytes: number): LogPage {
    const total = this.logSize();
    if (from >= total) return { text: "", start: from, end: from, total };
    const limit = from + Math.max(1, maxBytes);
    const parts: string[] = [];
    let end = from;
    // Lines ending after `from`, through the end_byte index; the cursor reads only what the page takes.
    const rows = this.sql.exec<{ text: string; end_byte: number }>("SELECT text, end_byte FROM sfp_log WHERE end_byte > ? ORDER BY end_byte", from);
    for (const row of rows) {
      const line = `${row.text}\n`;
      if (end === from) {
        // The first line may start before `from`, or alone be more than the page: cut it in bytes.
        const bytes = utf8.encode(line);
        const lineStart = row.end_byte - bytes.length;
        if (lineStart < from || row.end_byte > limit) {
          const cut = charBoundary(bytes, from - lineStart, Math.min(bytes.length, limit - lineStart));
          parts.push(fromUtf8.decode(bytes.subarray(from - lineStart, cut)));
          end = lineStart + cut;
          if (end < row.end_byte) break;
          continue;
        }
      }
      if (row.end_byte > limit) break;
      parts.push(line);
      end = row.end_byte;
    }
    return { text: parts.join(""), start: from, end, total };
  }
}

/** `at` moved back to the start of the UTF-8 character it falls in, but never to `floor` or below. */
function charBoundary(bytes: Uint8Array, floor: number, at: number): number {
  let cut = at;
  while (cut < bytes.length && cut > floor && (bytes[cut] & 0xc0) === 0x80) cut--;
  if (cut > floor) return cut;
  // Not even one character fits before `at`: take the first whole one.
  cut = floor + 1;
  while (cut < bytes.length && (bytes[cut] & 0xc0) === 0x80) cut++;
  return cut;
}

export function progressOf(p: Progress): Progress {
  const out: Progress = {};
  if (p.percent !== undefined) out.percent = p.percent;
  if (p.step !== undefined) out.step = p.step;
  if (p.message !== undefined) out.message = p.message;
  return out;
}
