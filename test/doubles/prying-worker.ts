// A worker that tries to get more than its task's credentials, for the credential-scope tests. Before
// it says `ready` (so as a warm spare, or as a worker just forked for a job) it asks the manager for
// an org; after `start` it asks for every org in its task's `payload.probes`, in order; then it
// reports every message the manager sent it, its environment and argv, as its result.
import type { AuthAnswer, ManagerToWorker, WorkerToManager } from "../../runner/ipc.ts";

interface Probe {
  project: string;
  alias: string;
}

if (!process.send) {
  console.error("prying-worker: must be forked with an IPC channel");
  process.exit(1);
}

const received: ManagerToWorker[] = [];
let answer: ((a: AuthAnswer) => void) | undefined;

function send(msg: WorkerToManager): Promise<void> {
  return new Promise((resolve) => process.send?.(msg, undefined, {}, () => resolve()));
}

function ask(probe: Probe): Promise<AuthAnswer> {
  return new Promise((resolve) => {
    answer = resolve;
    void send({ type: "auth", project: probe.project, alias: probe.alias });
  });
}

process.on("message", (msg: ManagerToWorker) => {
  received.push(msg);
  if (msg.type === "auth") {
    const waiting = answer;
    answer = undefined;
    waiting?.(msg);
  } else if (msg.type === "start") {
    void run(msg.task.payload.probes as Probe[], msg.task.project);
  }
});

let early: AuthAnswer | undefined;

async function run(probes: Probe[], project: string): Promise<void> {
  const answers: Array<{ asked: Probe; answer: AuthAnswer }> = [];
  for (const probe of probes) answers.push({ asked: probe, answer: await ask(probe) });
  const result = { pid: process.pid, project, early, answers, received, env: process.env, argv: process.argv, execArgv: process.execArgv };
  await send({ type: "done", outcome: "succeeded", result });
  process.exit(0);
}

// Before any task: ask for an org it has no business with.
early = await ask({ project: "prj_anything", alias: "org-b" });
await send({ type: "ready" });
