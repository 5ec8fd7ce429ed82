// A worker that tries to get more than its task's credentials, for the credential-scope tests. Before
// it says `ready` (so as a warm spare, or as a worker just forked for a job) it asks the manager for
// an org; after `start` it asks for every org in its task's `payload.probes`, in order; with
// `payload.leak` it then prints the credentials it got (and a token it reports as learned) to its
// stdout and stderr in several forms; then it reports every message the manager sent it, its
// environment and argv, as its result.
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
    void run(msg.task.payload.probes as Probe[], msg.task.project, msg.task.payload.leak === true);
  }
});

let early: AuthAnswer | undefined;

/** Stands for an access token the worker minted: it tells the manager, then prints it (tests know it). */
const LEARNED_TOKEN = "00Dxx0000001gPL!AR8AQJXg5oej8jmqTest.learned/token+value=";

async function run(probes: Probe[], project: string, leak: boolean): Promise<void> {
  const answers: Array<{ asked: Probe; answer: AuthAnswer }> = [];
  for (const probe of probes) answers.push({ asked: probe, answer: await ask(probe) });
  const got = answers.map((a) => a.answer).find((a) => "auth" in a);
  if (leak && got && "auth" in got) await print(got.auth.refreshToken, got.auth.clientSecret);
  const result = { pid: process.pid, project, early, answers, received, env: process.env, argv: process.argv, execArgv: process.execArgv };
  await send({ type: "done", outcome: "succeeded", result });
  process.exit(0);
}

function write(stream: NodeJS.WriteStream, text: string): Promise<void> {
  return new Promise((resolve) => stream.write(text, () => resolve()));
}

async function print(refreshToken: string, clientSecret: string): Promise<void> {
  await send({ type: "secrets", values: [LEARNED_TOKEN] });
  const half = Math.floor(refreshToken.length / 2);
  await write(process.stdout, `plain ${refreshToken} and ${clientSecret}\n`);
  await write(process.stdout, `${JSON.stringify({ level: "info", msg: "json line", value: refreshToken, learned: LEARNED_TOKEN })}\n`);
  await write(process.stderr, `split across lines: ${refreshToken.slice(0, half)}\n${refreshToken.slice(half)} <- there\n`);
  await write(process.stderr, `lower-case url: ${encodeURIComponent(LEARNED_TOKEN).replace(/%[0-9A-F]{2}/g, (e) => e.toLowerCase())}\n`);
  await write(process.stdout, `learned ${LEARNED_TOKEN}\n`);
}

// Before any task: ask for an org it has no business with.
early = await ask({ project: "prj_anything", alias: "org-b" });
await send({ type: "ready" });
