// `sfp-edge task …`: create (optionally waiting for the outcome), get, watch, logs, cancel, list.
import { EdgeError } from "../../protocol/client.ts";
import { CreateTaskBody, isTerminal, TASK_STATUSES, type Task, type TaskList } from "../../protocol/index.ts";
import { connect, getText, projectPath, type Session } from "../connect.ts";
import { EXIT, line, parse, printJson, UsageError, type Globals, type Io } from "../io.ts";
import { EventPrinter, taskSummary } from "../render.ts";
import { watchTask } from "../watch.ts";
import { runAtFlag } from "./schedule-at.ts";
import { integer, TEMPLATE_OPTIONS, templateFields } from "./task-template.ts";

export const TASK_USAGE = {
  create:
    "sfp-edge task create <type> --org <alias> [--payload-file <file|->] [--priority critical|normal|batch] [--pool <pool>] [--label <l>]… [--timeout-seconds <n>] [--max-attempts <n>] [--idempotency-key <k>] [--at <ISO instant|+10m>] [--wait] [--poll]",
  get: "sfp-edge task get <id>",
  watch: "sfp-edge task watch <id> [--poll]",
  logs: "sfp-edge task logs <id> [--follow [--poll]]",
  cancel: "sfp-edge task cancel <id>",
  list: "sfp-edge task list [--status <status>] [--limit <n>] [--cursor <c>]",
} as const;

/** Builds the create body from the command line; the contract's schema has the last word. */
export async function createBody(argv: string[], io: Io): Promise<{ body: CreateTaskBody; idempotencyKey?: string; wait: boolean; poll: boolean }> {
  const { values, positionals } = parse(
    argv,
    {
      org: { type: "string" },
      ...TEMPLATE_OPTIONS,
      "idempotency-key": { type: "string" },
      at: { type: "string" },
      wait: { type: "boolean" },
      poll: { type: "boolean" },
    },
    TASK_USAGE.create,
  );
  if (positionals.length !== 1) throw new UsageError("task create takes exactly one task type", TASK_USAGE.create);
  if (!values.org) throw new UsageError("--org is required", TASK_USAGE.create);
  const raw = await templateFields({ type: positionals[0], org: values.org }, values, io, TASK_USAGE.create);
  if (values.at !== undefined) raw.runAt = runAtFlag(values.at, TASK_USAGE.create);
  const parsed = CreateTaskBody.safeParse(raw);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    const field = issue.path.join(".") || "body";
    throw new UsageError(`${field}: ${issue.message}`, TASK_USAGE.create);
  }
  return { body: parsed.data, idempotencyKey: values["idempotency-key"], wait: values.wait === true, poll: values.poll === true };
}

function oneId(positionals: string[], usage: string): string {
  if (positionals.length !== 1 || !positionals[0]) throw new UsageError("expected one task id", usage);
  return positionals[0];
}

export async function taskCreate(io: Io, globals: Globals, argv: string[]): Promise<number> {
  const { body, idempotencyKey, wait, poll } = await createBody(argv, io);
  const s = await connect(io, globals);
  const res = await s.client.request<{ task: Task }>("POST", projectPath(s, "/tasks"), {
    body,
    headers: idempotencyKey ? { "idempotency-key": idempotencyKey } : undefined,
  });
  const task = res.body.task;
  if (globals.json) printJson(io, { task, created: res.status === 201 });
  else
    line(
      io,
      `${res.status === 201 ? "created" : "already created (same Idempotency-Key)"}: ${task.id} (${task.type} on ${task.org}, ${task.status}${task.status === "scheduled" && task.runAt ? ` until ${task.runAt}` : ""})`,
    );
  if (!wait) return EXIT.ok;
  return follow(io, globals, s, task.id, poll);
}

async function follow(io: Io, globals: Globals, s: Session, taskId: string, poll: boolean): Promise<number> {
  const printer = new EventPrinter(io, globals.json);
  const final = await watchTask({
    client: s.client,
    taskId,
    transport: poll ? "poll" : "auto",
    onEvent: (e) => printer.event(e),
    onNotice: (t) => printer.notice(t),
  });
  printer.finish(final);
  return final.status === "succeeded" ? EXIT.ok : EXIT.failed;
}

export async function taskWatch(io: Io, globals: Globals, argv: string[]): Promise<number> {
  const { values, positionals } = parse(argv, { poll: { type: "boolean" } }, TASK_USAGE.watch);
  const id = oneId(positionals, TASK_USAGE.watch);
  return follow(io, globals, await connect(io, globals), id, values.poll === true);
}

export async function taskGet(io: Io, globals: Globals, argv: string[]): Promise<number> {
  const { positionals } = parse(argv, {}, TASK_USAGE.get);
  const id = oneId(positionals, TASK_USAGE.get);
  const s = await connect(io, globals);
  const { body } = await s.client.request<{ task: Task }>("GET", `/v1/tasks/${encodeURIComponent(id)}`);
  if (globals.json) printJson(io, body);
  else for (const text of taskSummary(body.task)) line(io, text);
  return EXIT.ok;
}

export async function taskCancel(io: Io, globals: Globals, argv: string[]): Promise<number> {
  const { positionals } = parse(argv, {}, TASK_USAGE.cancel);
  const id = oneId(positionals, TASK_USAGE.cancel);
  const s = await connect(io, globals);
  const { body } = await s.client.request<{ task: Task }>("POST", `/v1/tasks/${encodeURIComponent(id)}/cancel`);
  if (globals.json) printJson(io, body);
  else line(io, body.task.status === "canceled" ? `canceled ${id}` : `cancel requested: ${id} is ${body.task.status} until its runner stops`);
  return EXIT.ok;
}

export async function taskList(io: Io, globals: Globals, argv: string[]): Promise<number> {
  const { values, positionals } = parse(argv, { status: { type: "string" }, limit: { type: "string" }, cursor: { type: "string" } }, TASK_USAGE.list);
  if (positionals.length) throw new UsageError(`unexpected argument ${positionals[0]}`, TASK_USAGE.list);
  const query = new URLSearchParams();
  if (values.status !== undefined) {
    if (!(TASK_STATUSES as readonly string[]).includes(values.status))
      throw new UsageError(`--status must be one of ${TASK_STATUSES.join(", ")}`, TASK_USAGE.list);
    query.set("status", values.status);
  }
  if (values.limit !== undefined) query.set("limit", String(integer(values.limit, "--limit", TASK_USAGE.list)));
  if (values.cursor !== undefined) query.set("cursor", values.cursor);
  const s = await connect(io, globals);
  const qs = query.toString();
  const { body } = await s.client.request<TaskList>("GET", projectPath(s, `/tasks${qs ? `?${qs}` : ""}`));
  if (globals.json) {
    printJson(io, body);
    return EXIT.ok;
  }
  if (!body.tasks.length) line(io, "no tasks");
  for (const t of body.tasks) {
    const progress = t.progress?.percent !== undefined && !isTerminal(t.status) ? ` ${t.progress.percent}%` : "";
    line(io, `${t.id}  ${t.status.padEnd(9)}${progress}  ${t.type.padEnd(12)}  ${t.org}  ${t.createdAt}`);
  }
  if (body.cursor) line(io, `more: sfp-edge task list --cursor ${body.cursor}`);
  return EXIT.ok;
}

/** Prints the log; with --follow, keeps reading from the last byte until the task is finished. */
export async function taskLogs(io: Io, globals: Globals, argv: string[]): Promise<number> {
  const { values, positionals } = parse(argv, { follow: { type: "boolean", short: "f" }, poll: { type: "boolean" } }, TASK_USAGE.logs);
  const id = encodeURIComponent(oneId(positionals, TASK_USAGE.logs));
  const s = await connect(io, globals);
  let offset = 0;
  const readMore = async (): Promise<void> => {
    // One answer carries at most a page of the log: read on until Content-Range reaches its total.
    for (;;) {
      let res: Awaited<ReturnType<typeof getText>>;
      try {
        res = await getText(s.client, `/v1/tasks/${id}/logs`, { range: `bytes=${offset}-` });
      } catch (err) {
        // 416: nothing past `offset` yet.
        if (err instanceof EdgeError && err.code === "range_not_satisfiable") return;
        throw err;
      }
      if (res.text) {
        if (globals.json) printJson(io, { offset, text: res.text });
        else io.stdout.write(res.text);
      }
      // `bytes N-M/TOTAL`: the next offset is M+1; without Content-Range, count what we got.
      const range = /(\d+)-(\d+)\/(\d+)$/.exec(res.headers.get("content-range") ?? "");
      if (!range) {
        offset += Buffer.byteLength(res.text);
        return;
      }
      const total = Number(range[3]);
      offset = Math.min(Number(range[2]) + 1, total);
      if (offset >= total) return;
    }
  };
  if (!values.follow) {
    await readMore();
    return EXIT.ok;
  }
  // The version is read before the log, so a line logged in between comes as an event after it.
  const { body } = await s.client.request<{ task: Task }>("GET", `/v1/tasks/${id}`);
  await readMore();
  // The task socket (or, when WebSockets do not get through, long-polls) says when lines arrive; the
  // text itself comes by Range from where the last read stopped, so nothing is printed twice.
  let reading = Promise.resolve();
  const final = await watchTask({
    client: s.client,
    taskId: decodeURIComponent(id),
    after: body.task.version,
    transport: values.poll ? "poll" : "auto",
    onEvent: (e) => {
      if (e.type === "log") reading = reading.then(readMore);
    },
    onNotice: (t) => io.stderr.write(`${t}\n`),
  });
  await reading;
  await readMore();
  return final.status === "succeeded" ? EXIT.ok : EXIT.failed;
}
