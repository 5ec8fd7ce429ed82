// What a job says while it runs (log lines, progress, its error message), masked before anything is
// cut to the contract's bounds, so that a clip never leaves a secret's first characters behind. Log
// lines are one stream: a line is held back until no secret can still straddle it and the next one
// (mask-lines.ts), and the held lines go out after a short idle, before any progress, and at the end.
import {
  MAX_ERROR_MESSAGE_CHARS,
  MAX_LOG_LINE_CHARS,
  MAX_LOG_LINES_PER_EVENT,
  MAX_PROGRESS_MESSAGE_CHARS,
  MAX_PROGRESS_STEP_CHARS,
} from "../../protocol/limits.ts";
import type { Progress } from "../../protocol/task.ts";
import type { WorkerEvent } from "../ipc.ts";
import { createLineMasker } from "../mask-lines.ts";
import type { Masker } from "../mask.ts";

/** The contract's bounds on a runner event and a task error (protocol/limits.ts). */
export const MAX_LINE = MAX_LOG_LINE_CHARS;
const MAX_LINES_PER_EVENT = MAX_LOG_LINES_PER_EVENT;
const MAX_STEP = MAX_PROGRESS_STEP_CHARS;
const MAX_MESSAGE = MAX_PROGRESS_MESSAGE_CHARS;
export const MAX_ERROR_MESSAGE = MAX_ERROR_MESSAGE_CHARS;
/** Held log lines go out after this long without a new one. */
export const LOG_HOLD_MS = 100;

const clip = (s: string, n: number) => (s.length > n ? `${s.slice(0, n - 1)}…` : s);

export interface JobOutput {
  log(...lines: string[]): void;
  progress(p: Progress): void;
  /** The job's error message, masked, then clipped. */
  errorMessage(message: string): string;
  /** Sends every held log line now (before the job's last message). */
  flush(): void;
}

export function createJobOutput(masker: Masker, emit: (event: WorkerEvent) => void): JobOutput {
  const lines = createLineMasker(masker);
  let timer: NodeJS.Timeout | undefined;

  const send = (masked: string[]) => {
    const clipped = masked.map((l) => clip(l, MAX_LINE));
    for (let i = 0; i < clipped.length; i += MAX_LINES_PER_EVENT) emit({ type: "log", lines: clipped.slice(i, i + MAX_LINES_PER_EVENT) });
  };
  const flush = () => {
    clearTimeout(timer);
    timer = undefined;
    send(lines.flush());
  };

  return {
    log(...text) {
      send(lines.push(text));
      clearTimeout(timer);
      timer = lines.held > 0 ? setTimeout(flush, LOG_HOLD_MS) : undefined;
    },
    progress(p) {
      // The lines logged before it go first, so that the events keep their order.
      flush();
      emit({
        type: "progress",
        ...(p.percent !== undefined ? { percent: Math.max(0, Math.min(100, p.percent)) } : {}),
        ...(p.step !== undefined ? { step: clip(masker.mask(p.step), MAX_STEP) } : {}),
        ...(p.message !== undefined ? { message: clip(masker.mask(p.message), MAX_MESSAGE) } : {}),
      });
    },
    errorMessage(message) {
      return clip(masker.mask(message), MAX_ERROR_MESSAGE);
    },
    flush,
  };
}
