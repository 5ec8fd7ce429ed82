// The `sfp-edge` command: finds the subcommand, runs it, and turns every failure into a clear
// message and an exit code (0 ok, 1 failed or the task did not succeed, 2 bad command line).
import { EXIT, reportError, splitGlobals, UsageError, type Globals, type Io } from "./io.ts";
import { LOCAL_USAGE, orgRegister, runnerStart } from "./commands/local.ts";
import { login, orgList, orgPut, PROJECT_USAGE, runnerToken, tokenCreate, tokenList, tokenRevoke, webhookSourcePut } from "./commands/project.ts";
import { ARTIFACT_USAGE, taskArtifacts, taskDownload } from "./commands/artifacts.ts";
import { REPO_USAGE, repoRegister } from "./commands/repo.ts";
import { NOTIFY_USAGE, notifyDeliveries, notifyList, notifyPut, notifyRedeliver } from "./commands/notify.ts";
import { APPROVAL_USAGE, taskApprove, taskReject } from "./commands/approval.ts";
import { SCHEDULE_USAGE, schedulePause, schedulePut, scheduleResume, scheduleList, scheduleRuns } from "./commands/schedule.ts";
import { RUNNER_USAGE, runnerDrain, runnerList, runnerRevoke } from "./commands/runner.ts";
import { TOP_USAGE, top } from "./commands/top.ts";
import { TASK_USAGE, taskCancel, taskCreate, taskGet, taskList, taskLogs, taskWatch } from "./commands/task.ts";

type Command = (io: Io, globals: Globals, argv: string[]) => Promise<number>;

const COMMANDS: Record<string, { run: Command; usage: string }> = {
  login: { run: login, usage: PROJECT_USAGE.login },
  "task create": { run: taskCreate, usage: TASK_USAGE.create },
  "task get": { run: taskGet, usage: TASK_USAGE.get },
  "task watch": { run: taskWatch, usage: TASK_USAGE.watch },
  "task logs": { run: taskLogs, usage: TASK_USAGE.logs },
  "task cancel": { run: taskCancel, usage: TASK_USAGE.cancel },
  "task list": { run: taskList, usage: TASK_USAGE.list },
  "task artifacts": { run: taskArtifacts, usage: ARTIFACT_USAGE.artifacts },
  "task download": { run: taskDownload, usage: ARTIFACT_USAGE.download },
  "task approve": { run: taskApprove, usage: APPROVAL_USAGE.approve },
  "task reject": { run: taskReject, usage: APPROVAL_USAGE.reject },
  "token create": { run: tokenCreate, usage: PROJECT_USAGE.tokenCreate },
  "token list": { run: tokenList, usage: PROJECT_USAGE.tokenList },
  "token revoke": { run: tokenRevoke, usage: PROJECT_USAGE.tokenRevoke },
  "org put": { run: orgPut, usage: PROJECT_USAGE.orgPut },
  "org list": { run: orgList, usage: PROJECT_USAGE.orgList },
  "org register": { run: orgRegister, usage: LOCAL_USAGE.orgRegister },
  "repo register": { run: repoRegister, usage: REPO_USAGE.register },
  "webhook-source put": { run: webhookSourcePut, usage: PROJECT_USAGE.webhookSourcePut },
  "runner token": { run: runnerToken, usage: PROJECT_USAGE.runnerToken },
  "notify put": { run: notifyPut, usage: NOTIFY_USAGE.put },
  "notify list": { run: notifyList, usage: NOTIFY_USAGE.list },
  "notify deliveries": { run: notifyDeliveries, usage: NOTIFY_USAGE.deliveries },
  "notify redeliver": { run: notifyRedeliver, usage: NOTIFY_USAGE.redeliver },
  "runner start": { run: runnerStart, usage: LOCAL_USAGE.runnerStart },
  "schedule put": { run: schedulePut, usage: SCHEDULE_USAGE.put },
  "schedule list": { run: scheduleList, usage: SCHEDULE_USAGE.list },
  "schedule runs": { run: scheduleRuns, usage: SCHEDULE_USAGE.runs },
  "schedule pause": { run: schedulePause, usage: SCHEDULE_USAGE.pause },
  "schedule resume": { run: scheduleResume, usage: SCHEDULE_USAGE.resume },
  "runner list": { run: runnerList, usage: RUNNER_USAGE.list },
  "runner drain": { run: runnerDrain, usage: RUNNER_USAGE.drain },
  "runner revoke": { run: runnerRevoke, usage: RUNNER_USAGE.revoke },
  top: { run: top, usage: TOP_USAGE },
};

export function helpText(): string {
  const rows = Object.values(COMMANDS).map((c) => `  ${c.usage}`);
  return [
    "sfp-edge: the command line of the sfp-edge control plane",
    "",
    "commands:",
    ...rows,
    "",
    "every command takes --json (machine-readable output) and --config-dir <dir>;",
    "SFP_EDGE_URL, SFP_EDGE_TOKEN and SFP_EDGE_PROJECT override the stored login.",
    "exit codes: 0 ok, 1 failed (or the task did not succeed), 2 bad command line.",
    "",
  ].join("\n");
}

/** Finds the longest command name the arguments start with ("task create" before "task"). */
export function resolveCommand(args: string[]): { name: string; rest: string[] } | null {
  for (const words of [2, 1]) {
    const name = args.slice(0, words).join(" ");
    if (args.length >= words && COMMANDS[name]) return { name, rest: args.slice(words) };
  }
  return null;
}

export async function run(argv: string[], io: Io): Promise<number> {
  let globals: Globals = { json: false };
  try {
    const split = splitGlobals(argv);
    globals = split.globals;
    const args = split.rest;
    if (!args.length || args[0] === "help" || args[0] === "--help" || args[0] === "-h") {
      io.stdout.write(helpText());
      return args.length ? EXIT.ok : EXIT.usage;
    }
    const found = resolveCommand(args);
    if (!found) {
      const group = Object.keys(COMMANDS).filter((n) => n.startsWith(`${args[0]} `));
      const hint = group.length ? `; ${args[0]} takes: ${group.map((n) => n.split(" ")[1]).join(", ")}` : "; see sfp-edge help";
      throw new UsageError(`unknown command "${args.slice(0, 2).join(" ")}"${hint}`);
    }
    const command = COMMANDS[found.name];
    if (found.rest.includes("--help") || found.rest.includes("-h")) {
      io.stdout.write(`usage: ${command.usage}\n`);
      return EXIT.ok;
    }
    return await command.run(io, globals, found.rest);
  } catch (err) {
    return reportError(io, globals, err);
  }
}
