// `sfp-edge schedule put|list|runs|pause|resume`: a project's schedules (issue 15; README "Schedules").
// pause and resume read the schedule and put it back with `enabled` changed.
import { PutScheduleBody, type Schedule, type ScheduleRuns, ScheduleTaskTemplate } from "../../protocol/index.ts";
import { connect, projectPath, type Session } from "../connect.ts";
import { EXIT, line, parse, printJson, UsageError, type Globals, type Io } from "../io.ts";
import { integer, TEMPLATE_OPTIONS, templateFields } from "./task-template.ts";

export const SCHEDULE_USAGE = {
  put: 'sfp-edge schedule put <name> --cron "<m h dom mon dow>" [--timezone <IANA zone>] --type <task type> --org <alias> [--payload-file <file|->] [--priority critical|normal|batch] [--pool <pool>] [--label <l>]… [--timeout-seconds <n>] [--max-attempts <n>] [--overlap skip|queue] [--missed latest|skip] [--disabled]',
  list: "sfp-edge schedule list",
  runs: "sfp-edge schedule runs <name> [--limit <n>] [--next <n>]",
  pause: "sfp-edge schedule pause <name>",
  resume: "sfp-edge schedule resume <name>",
} as const;

const schedulePath = (name: string) => `/schedules/${encodeURIComponent(name)}`;

function oneName(positionals: string[], usage: string): string {
  if (positionals.length !== 1 || !positionals[0]) throw new UsageError("expected one schedule name", usage);
  return positionals[0];
}

/** The PUT body from the command line (exported for its unit test); the contract's schema has the last word. */
export async function schedulePutBody(argv: string[], io: Io): Promise<{ name: string; body: PutScheduleBody }> {
  const usage = SCHEDULE_USAGE.put;
  const { values, positionals } = parse(
    argv,
    {
      cron: { type: "string" },
      timezone: { type: "string" },
      type: { type: "string" },
      org: { type: "string" },
      ...TEMPLATE_OPTIONS,
      overlap: { type: "string" },
      missed: { type: "string" },
      disabled: { type: "boolean" },
    },
    usage,
  );
  const name = oneName(positionals, usage);
  if (!values.cron) throw new UsageError("--cron is required", usage);
  if (!values.type || !values.org) throw new UsageError("--type and --org are required", usage);
  const task = await templateFields({ type: values.type, org: values.org }, values, io, usage);
  const raw: Record<string, unknown> = { cron: values.cron, task, enabled: !values.disabled };
  if (values.timezone !== undefined) raw.timezone = values.timezone;
  if (values.overlap !== undefined) raw.overlap = values.overlap;
  if (values.missed !== undefined) raw.missed = values.missed;
  const parsed = PutScheduleBody.safeParse(raw);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    throw new UsageError(`${issue.path.join(".") || "body"}: ${issue.message}`, usage);
  }
  return { name, body: parsed.data };
}

function describe(s: Schedule): string {
  const state = s.enabled ? `next ${s.nextRunAt ?? "-"}` : "paused";
  return `${s.name}  "${s.cron}" ${s.timezone}  ${s.task.type} on ${s.task.org}  overlap=${s.overlap} missed=${s.missed}  ${state}`;
}

export async function schedulePut(io: Io, globals: Globals, argv: string[]): Promise<number> {
  const { name, body } = await schedulePutBody(argv, io);
  const s = await connect(io, globals);
  const res = await s.client.request<{ schedule: Schedule }>("PUT", projectPath(s, schedulePath(name)), { body });
  if (globals.json) printJson(io, res.body);
  else line(io, `${res.status === 201 ? "created" : "updated"}: ${describe(res.body.schedule)}`);
  return EXIT.ok;
}

export async function scheduleList(io: Io, globals: Globals, argv: string[]): Promise<number> {
  parse(argv, {}, SCHEDULE_USAGE.list);
  const s = await connect(io, globals);
  const { body } = await s.client.request<{ schedules: Schedule[] }>("GET", projectPath(s, "/schedules"));
  if (globals.json) printJson(io, body);
  else if (!body.schedules.length) line(io, "no schedules");
  else for (const schedule of body.schedules) line(io, describe(schedule));
  return EXIT.ok;
}

export async function scheduleRuns(io: Io, globals: Globals, argv: string[]): Promise<number> {
  const { values, positionals } = parse(argv, { limit: { type: "string" }, next: { type: "string" } }, SCHEDULE_USAGE.runs);
  const name = oneName(positionals, SCHEDULE_USAGE.runs);
  const limit = values.limit === undefined ? 20 : integer(values.limit, "--limit", SCHEDULE_USAGE.runs);
  const next = values.next === undefined ? 5 : integer(values.next, "--next", SCHEDULE_USAGE.runs);
  const s = await connect(io, globals);
  const { body } = await s.client.request<ScheduleRuns>("GET", projectPath(s, `${schedulePath(name)}/runs?limit=${limit}&next=${next}`));
  if (globals.json) printJson(io, body);
  else {
    line(io, body.next.length ? `next: ${body.next.join(", ")}` : "next: none (paused)");
    if (!body.runs.length) line(io, "no runs yet");
    for (const r of body.runs) {
      const missed = r.missed ? `  missed=${r.missed}` : "";
      line(io, `${r.slot}  ${r.outcome}  ${r.taskId ?? "-"}${missed}${r.error ? `  ${r.error}` : ""}`);
    }
  }
  return EXIT.ok;
}

async function setEnabled(io: Io, globals: Globals, argv: string[], enabled: boolean, usage: string): Promise<number> {
  const { positionals } = parse(argv, {}, usage);
  const name = oneName(positionals, usage);
  const s: Session = await connect(io, globals);
  const { body: read } = await s.client.request<{ schedule: Schedule }>("GET", projectPath(s, schedulePath(name)));
  const { cron, timezone, task, overlap, missed } = read.schedule;
  const body: PutScheduleBody = { cron, timezone, task: ScheduleTaskTemplate.parse(task), overlap, missed, enabled };
  const { body: answer } = await s.client.request<{ schedule: Schedule }>("PUT", projectPath(s, schedulePath(name)), { body });
  if (globals.json) printJson(io, answer);
  else line(io, `${enabled ? "resumed" : "paused"}: ${describe(answer.schedule)}`);
  return EXIT.ok;
}

export const schedulePause = (io: Io, globals: Globals, argv: string[]) => setEnabled(io, globals, argv, false, SCHEDULE_USAGE.pause);
export const scheduleResume = (io: Io, globals: Globals, argv: string[]) => setEnabled(io, globals, argv, true, SCHEDULE_USAGE.resume);
