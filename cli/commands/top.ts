// `sfp-edge top`: a live terminal view of the project's unfinished tasks and its runners' load, from
// one list and then the project feed (resuming with ?after= after a drop, listing again on `reset`),
// redrawn with plain ANSI: cursor home, clear, the lines. `q` or Ctrl-C quits; `--once` draws once.
import type { EdgeClient } from "../../protocol/client.ts";
import { EdgeError } from "../../protocol/client.ts";
import type { RunnerInfo, ServerMessage, TaskList, TaskSummary } from "../../protocol/index.ts";
import { backoffMs, exponential, sleep } from "../../protocol/retry.ts";
import { connect, projectPath, type Session } from "../connect.ts";
import { EXIT, line, parse, printJson, UsageError, type Globals, type Io } from "../io.ts";
import { TopView } from "../top-view.ts";

export const TOP_USAGE = "sfp-edge top [--once]";

const UNFINISHED = ["running", "canceling", "awaiting_approval", "queued"] as const;
/** At most this many redraws a second, however busy the feed. */
const REDRAW_MS = 250;
const RECONNECT = exponential(500, 10_000);
const CLEAR = "\x1b[H\x1b[2J";

export async function top(io: Io, globals: Globals, argv: string[]): Promise<number> {
  const { values, positionals } = parse(argv, { once: { type: "boolean" } }, TOP_USAGE);
  if (positionals.length) throw new UsageError(`unexpected argument ${positionals[0]}`, TOP_USAGE);
  const s = await connect(io, globals);
  const view = new TopView();
  await list(s, view);
  if (values.once) {
    if (globals.json) printJson(io, { tasks: [...view.tasks.values()], runners: [...view.runners.values()] });
    else for (const text of view.render(s.project, new Date(), Number.MAX_SAFE_INTEGER)) line(io, text);
    return EXIT.ok;
  }
  const stop = new AbortController();
  const quit = () => stop.abort();
  process.once("SIGINT", quit);
  process.once("SIGTERM", quit);
  const stdin = process.stdin;
  const onKey = (key: Buffer) => {
    if (key.toString() === "q" || key[0] === 3) quit();
  };
  if (stdin.isTTY) {
    stdin.setRawMode(true);
    stdin.on("data", onKey);
  }
  let drawn = 0;
  let pending: NodeJS.Timeout | undefined;
  const draw = () => {
    pending = undefined;
    drawn = Date.now();
    const rows = process.stdout.rows ?? 40;
    io.stdout.write(`${CLEAR}${view.render(s.project, new Date(), rows - 1).join("\n")}\n`);
  };
  const redraw = () => {
    if (pending) return;
    pending = setTimeout(draw, Math.max(0, REDRAW_MS - (Date.now() - drawn)));
  };
  const clock = setInterval(redraw, 1000);
  try {
    draw();
    await follow(s, view, redraw, stop.signal);
  } finally {
    clearInterval(clock);
    if (pending) clearTimeout(pending);
    process.off("SIGINT", quit);
    process.off("SIGTERM", quit);
    if (stdin.isTTY) {
      stdin.off("data", onKey);
      stdin.setRawMode(false);
      stdin.pause();
    }
  }
  return EXIT.ok;
}

/** The unfinished tasks, and the runners when the token may see them (owners; others see tasks only). */
async function list(s: Session, view: TopView): Promise<void> {
  const tasks: TaskSummary[] = [];
  for (const status of UNFINISHED) tasks.push(...(await s.client.request<TaskList>("GET", projectPath(s, `/tasks?status=${status}&limit=200`))).body.tasks);
  let runners: RunnerInfo[] | null = null;
  try {
    runners = (await s.client.request<{ runners: RunnerInfo[] }>("GET", projectPath(s, "/runners"))).body.runners;
  } catch (err) {
    if (!(err instanceof EdgeError) || err.status !== 403) throw err;
  }
  view.load(tasks, runners);
}

/** The project feed until `signal`: each drop reconnects with ?after= the last seq; a reset lists again. */
async function follow(s: Session, view: TopView, redraw: () => void, signal: AbortSignal): Promise<void> {
  let failures = 0;
  while (!signal.aborted) {
    const opened = await session(s.client, s.project, view, redraw, signal);
    if (signal.aborted) return;
    failures = opened ? 1 : failures + 1;
    view.connection = "reconnecting";
    redraw();
    await sleep(backoffMs(RECONNECT, failures), signal).catch(() => undefined);
  }
}

function session(client: EdgeClient, project: string, view: TopView, redraw: () => void, signal: AbortSignal): Promise<boolean> {
  const url = new URL(`${client.baseUrl}/v1/projects/${encodeURIComponent(project)}/ws`);
  url.protocol = url.protocol === "https:" ? "wss:" : "ws:";
  if (view.lastSeq > 0) url.searchParams.set("after", String(view.lastSeq));
  const headers: Record<string, string> = client.token ? { authorization: `Bearer ${client.token}` } : {};
  return new Promise((resolve) => {
    let opened = false;
    const ws = new WebSocket(url.toString(), { headers });
    const onAbort = () => ws.close(1000, "quit");
    signal.addEventListener("abort", onAbort, { once: true });
    const keepAlive = setInterval(() => ws.readyState === 1 && ws.send("ping"), 20_000);
    const done = () => {
      clearInterval(keepAlive);
      signal.removeEventListener("abort", onAbort);
      resolve(opened);
    };
    ws.addEventListener("open", () => {
      opened = true;
      view.connection = "live";
      redraw();
    });
    ws.addEventListener("message", (ev) => {
      if (typeof ev.data !== "string" || ev.data === "pong") return;
      let m: ServerMessage;
      try {
        m = JSON.parse(ev.data) as ServerMessage;
      } catch {
        return;
      }
      if (view.apply(m)) redraw();
      if (view.needsList) relist(client, project, view).then(redraw, () => ws.close(4000, "list failed"));
    });
    ws.addEventListener("close", done);
    ws.addEventListener("error", () => {
      if (!opened) done();
    });
  });
}

function relist(client: EdgeClient, project: string, view: TopView): Promise<void> {
  view.needsList = false;
  return list({ client, project, url: client.baseUrl }, view);
}
