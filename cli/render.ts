// How tasks and their events look: one JSON object a line with --json, plain lines when piped, and
// on a terminal a progress bar kept on the last line while status and log lines scroll above it.
import type { Progress, Task, TaskEvent } from "../protocol/index.ts";
import { line, printJson, type Io } from "./io.ts";

const BAR_WIDTH = 24;

export function progressBar(p: Progress, width = BAR_WIDTH): string {
  const percent = Math.max(0, Math.min(100, p.percent ?? 0));
  const filled = Math.round((percent / 100) * width);
  const label = [p.step, p.message].filter(Boolean).join(": ");
  return `[${"#".repeat(filled)}${".".repeat(width - filled)}] ${percent.toFixed(0).padStart(3)}%${label ? `  ${label}` : ""}`;
}

export function describeEvent(e: TaskEvent): string[] {
  switch (e.type) {
    case "status":
      return [`[status] ${e.status} (attempt ${e.attempt})${e.error ? ` ${e.error.code}: ${e.error.message}` : ""}`];
    case "progress": {
      const label = [e.step, e.message].filter(Boolean).join(": ");
      return [`[progress]${e.percent !== undefined ? ` ${e.percent}%` : ""}${label ? ` ${label}` : ""}`];
    }
    case "log":
      return e.lines;
    case "result":
      return [`[result] ${JSON.stringify(e.result)}`];
    case "artifact":
      return [`[artifact] ${e.artifact.name} (${e.artifact.size} bytes, ${e.artifact.contentType})`];
    case "lock":
      return [
        e.state === "held"
          ? `[lock] holds the lock of org ${e.org}`
          : `[lock] waiting for org ${e.org}: position ${e.position}${e.holder ? `, held by ${e.holder}` : ""}`,
      ];
    case "approval":
      return [`[approval] ${describeApproval(e.decision, e.org, e.by, e.expiresAt)}`];
    case "checkpoint":
      return [`[checkpoint] ${e.operation} ${e.salesforceId ?? "(submitting)"} (attempt ${e.attempt})`];
  }
}

function describeApproval(decision: string, org: string, by?: string, expiresAt?: string): string {
  if (decision === "required") return `org ${org} is protected: awaiting approval until ${expiresAt} (sfp-edge task approve|reject <id>)`;
  if (decision === "expired") return `nobody approved the task in time (org ${org})`;
  return `${decision} by ${by ?? "?"}`;
}

export function taskSummary(task: Task): string[] {
  const out = [
    `${task.id}  ${task.type}  org=${task.org}  pool=${task.pool}  priority=${task.priority}`,
    `status: ${task.status}  attempt ${task.attempt}/${task.maxAttempts}  version ${task.version}`,
    `created ${task.createdAt}${task.startedAt ? `  started ${task.startedAt}` : ""}${task.finishedAt ? `  finished ${task.finishedAt}` : ""}`,
  ];
  if (task.labels.length) out.push(`labels: ${task.labels.join(", ")}`);
  if (task.waitingFor)
    out.push(
      `waiting for org ${task.waitingFor.org}: position ${task.waitingFor.position}${task.waitingFor.holder ? `, held by ${task.waitingFor.holder}` : ""}`,
    );
  if (task.status === "scheduled" && task.runAt) out.push(`scheduled: queued at ${task.runAt}`);
  if (task.status === "awaiting_approval" && task.approval) out.push(`awaiting approval until ${task.approval.expiresAt}`);
  if (task.approval?.decision) out.push(`approval: ${task.approval.decision} by ${task.approval.by} at ${task.approval.at}`);
  if (task.progress) out.push(`progress: ${progressBar(task.progress)}`);
  if (task.error) out.push(`error: ${task.error.code}: ${task.error.message}`);
  if (task.result !== undefined) out.push(`result: ${JSON.stringify(task.result)}`);
  return out;
}

/** Prints a watched task's events as they come. */
export class EventPrinter {
  private readonly io: Io;
  private readonly json: boolean;
  private readonly tty: boolean;
  private bar: string | null = null;

  constructor(io: Io, json: boolean) {
    this.io = io;
    this.json = json;
    this.tty = !json && io.stdout.isTTY === true;
  }

  event(e: TaskEvent): void {
    if (this.json) {
      printJson(this.io, { event: e });
      return;
    }
    if (this.tty && e.type === "progress") {
      this.drawBar(progressBar(e, barWidth(this.io)));
      return;
    }
    this.clearBar();
    for (const text of describeEvent(e)) line(this.io, text);
    this.redrawBar();
  }

  /** Reconnects and fallbacks go to stderr, so stdout stays the task's own output. */
  notice(text: string): void {
    if (this.json) {
      this.io.stderr.write(`${JSON.stringify({ notice: text })}\n`);
      return;
    }
    this.clearBar();
    this.io.stderr.write(`sfp-edge: ${text}\n`);
    this.redrawBar();
  }

  finish(task: Task): void {
    if (this.json) {
      printJson(this.io, { task });
      return;
    }
    this.clearBar();
    this.bar = null;
    const tail = task.error ? `: ${task.error.code}: ${task.error.message}` : "";
    line(this.io, `task ${task.id} ${task.status}${tail}`);
  }

  private drawBar(text: string): void {
    this.bar = text;
    this.io.stdout.write(`\r\x1b[2K${text}`);
  }

  private clearBar(): void {
    if (this.tty && this.bar !== null) this.io.stdout.write("\r\x1b[2K");
  }

  private redrawBar(): void {
    if (this.tty && this.bar !== null) this.io.stdout.write(this.bar);
  }
}

function barWidth(io: Io): number {
  const columns = io.stdout.columns ?? 80;
  return Math.max(10, Math.min(BAR_WIDTH, columns - 40));
}
