// Masking one stream of lines (a job's log, a worker's stdout) across line boundaries: a secret split
// over two lines must not leave its first half in a line already sent. So a line is held back until
// enough text follows it that no secret starting in it can still be completed (the masker's reach),
// or until the stream is flushed (idle, or at its end). Every held line is masked together.
import { maskRanges, type Masker } from "./mask.ts";

export interface LineMasker {
  /** Takes the next lines of the stream; returns, masked, the lines that can no longer change. */
  push(lines: string[]): string[];
  /** Returns every held line, masked (the stream is idle or over). */
  flush(): string[];
  /** Lines held back now. */
  readonly held: number;
}

interface Held {
  text: string;
  /** Characters other than line breaks. */
  size: number;
  ranges: Array<[number, number]>;
}

export function createLineMasker(masker: Masker): LineMasker {
  let held: Held[] = [];

  /** Finds the secrets in the held lines taken together, and marks each line's part of them. */
  const scan = () => {
    const starts: number[] = [];
    let offset = 0;
    for (const h of held) {
      starts.push(offset);
      offset += h.text.length + 1;
    }
    for (const [start, end] of masker.find(held.map((h) => h.text).join("\n"))) {
      held.forEach((h, i) => {
        const from = Math.max(start, starts[i]) - starts[i];
        const to = Math.min(end, starts[i] + h.text.length) - starts[i];
        if (to > from) h.ranges.push([from, to]);
      });
    }
  };
  const render = (h: Held) => maskRanges(h.text, h.ranges);

  return {
    push(lines) {
      if (lines.length === 0) return [];
      held.push(...lines.map((text) => ({ text, size: text.replace(/[\r\n]/g, "").length, ranges: [] })));
      scan();
      // A line is final once at least reach - 1 characters follow it: a secret starting in it ends before that.
      const out: string[] = [];
      let after = held.reduce((n, h) => n + h.size, 0);
      while (held.length > 0) {
        after -= held[0].size;
        if (after < masker.reach - 1) break;
        const line = held.shift();
        if (line) out.push(render(line));
      }
      return out;
    },
    flush() {
      if (held.length === 0) return [];
      scan();
      const out = held.map(render);
      held = [];
      return out;
    },
    get held() {
      return held.length;
    },
  };
}
