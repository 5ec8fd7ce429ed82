// A stand-in for runner/worker/main.ts that speaks runner/ipc.ts and does what its task's
// `payload.fake` says, so that the manager's handling of workers can be tested without Salesforce.
// It is configured through the task (which it gets over IPC) because its environment is filtered.
import type { ManagerToWorker, WorkerToManager } from "../../runner/ipc.ts";

export interface FakeWorkerBehaviour {
  /** Log events to emit at the start, one line each, all at once (the manager batches them). */
  events?: number;
  /** Busy-loop this long, blocking this process's event loop (a CPU-bound operation). */
  burnMs?: number;
  /** Then wait this long (cancellable). */
  sleepMs?: number;
  /** Exit with this code instead of reporting an outcome. */
  crashWithCode?: number;
  /** Ignore the IPC cancel and SIGTERM (only SIGKILL stops it). */
  ignoreCancel?: boolean;
  outcome?: "succeeded" | "failed" | "canceled";
  /** Put this process's pid, env, argv and execArgv, and every message the manager sent it, in the result. */
  report?: boolean;
  /** What a later attempt of the task does instead (a requeued task comes back with attempt > 1). */
  retry?: FakeWorkerBehaviour;
}

if (!process.send) {
  console.error("fake-worker: must be forked with an IPC channel");
  process.exit(1);
}

let behaviour: FakeWorkerBehaviour = {};
const received: unknown[] = [];
let finishing = false;

function send(msg: WorkerToManager): Promise<void> {
  return new Promise((resolve) => process.send?.(msg, undefined, {}, () => resolve()));
}

function log(line: string): Promise<void> {
  return send({ type: "event", event: { type: "log", lines: [line] } });
}

async function finish(msg: Extract<WorkerToManager, { type: "done" }>): Promise<void> {
  if (finishing) return;
  finishing = true;
  await send(msg);
  process.exit(0);
}

process.on("message", (raw: ManagerToWorker) => {
  received.push(raw);
  if (raw.type === "start") {
    const first = (raw.task.payload.fake ?? {}) as FakeWorkerBehaviour;
    behaviour = raw.task.attempt > 1 && first.retry ? first.retry : first;
    if (behaviour.ignoreCancel) process.on("SIGTERM", () => void log("SIGTERM received (ignored)"));
    void run(raw.task.id);
  } else if (raw.type === "cancel") {
    void log(`cancel received: ${raw.reason}`).then(() => {
      if (behaviour.ignoreCancel) return;
      return finish({ type: "done", outcome: "canceled" });
    });
  }
});

async function run(taskId: string): Promise<void> {
  console.log(JSON.stringify({ level: "info", msg: "fake worker started", taskId }));
  const sends: Promise<void>[] = [];
  for (let i = 1; i <= (behaviour.events ?? 0); i++) {
    sends.push(i % 10 === 0 ? send({ type: "event", event: { type: "progress", percent: Math.min(100, i), step: "working" } }) : log(`line ${i}`));
  }
  await Promise.all(sends);
  if (behaviour.burnMs) {
    const until = Date.now() + behaviour.burnMs;
    let x = 0;
    while (Date.now() < until) x += Math.sqrt(x + 1);
  }
  if (behaviour.sleepMs) await new Promise((resolve) => setTimeout(resolve, behaviour.sleepMs));
  if (behaviour.crashWithCode !== undefined) process.exit(behaviour.crashWithCode);
  const result = behaviour.report ? { pid: process.pid, env: process.env, argv: process.argv, execArgv: process.execArgv, received } : { ok: true, taskId };
  await finish({ type: "done", outcome: behaviour.outcome ?? "succeeded", result });
}

await send({ type: "ready" });
