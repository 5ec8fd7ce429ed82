// Commands that act on this machine rather than only on the edge: starting a runner manager and
// writing an org's credentials into the secret store (which the edge never sees). `repo register`
// (repo.ts) writes through the same child process.
import { spawn } from "node:child_process";
import { existsSync } from "node:fs";
import { resolve } from "node:path";
import { configDir, readConfig, withEnv } from "../config.ts";
import { connect, projectPath } from "../connect.ts";
import { CliError, EXIT, line, parse, printJson, UsageError, type Globals, type Io } from "../io.ts";
import { readText, registrationToken } from "./project.ts";
import { integer } from "./task-template.ts";
import { ORG_SETTING_FLAGS, ORG_SETTINGS_USAGE, orgSettingsBody } from "./org-settings.ts";

export const LOCAL_USAGE = {
  runnerStart:
    "sfp-edge runner start [--pool <pool> | (SFP_REGISTRATION_TOKEN in the environment)] [--name <n>] [--labels a,b] [--slots <n>] [--ephemeral] [--listen host:port] [--state-file <file>]",
  orgRegister: `sfp-edge org register --alias <alias> --sfdx-auth-url-file <file|-> [--project <id>] [--pool <pool>] [--local-only] ${ORG_SETTINGS_USAGE}`,
} as const;

export const RUNNER_ENTRY = resolve(import.meta.dirname, "..", "..", "runner", "main.ts");

/**
 * The manager's environment: ours, minus the CLI's own API token (the runner authenticates with its
 * registration, never with a person's token), plus its settings (runner/manager/config.ts).
 */
export function runnerEnv(
  base: NodeJS.ProcessEnv,
  settings: {
    url: string;
    registrationToken?: string;
    name?: string;
    labels?: string;
    slots?: number;
    ephemeral?: boolean;
    listen?: string;
    stateFile?: string;
  },
): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = { ...base, SFP_EDGE_URL: settings.url };
  delete env.SFP_EDGE_TOKEN;
  if (settings.registrationToken) env.SFP_REGISTRATION_TOKEN = settings.registrationToken;
  if (settings.name) env.SFP_RUNNER_NAME = settings.name;
  if (settings.labels) env.SFP_RUNNER_LABELS = settings.labels;
  if (settings.slots !== undefined) env.SFP_RUNNER_SLOTS = String(settings.slots);
  if (settings.ephemeral) env.SFP_RUNNER_EPHEMERAL = "true";
  if (settings.listen) env.SFP_RUNNER_LISTEN = settings.listen;
  if (settings.stateFile) env.SFP_RUNNER_STATE_FILE = settings.stateFile;
  return env;
}

export async function runnerStart(io: Io, globals: Globals, argv: string[]): Promise<number> {
  const { values, positionals } = parse(
    argv,
    {
      pool: { type: "string" },
      name: { type: "string" },
      labels: { type: "string" },
      slots: { type: "string" },
      ephemeral: { type: "boolean" },
      listen: { type: "string" },
      "state-file": { type: "string" },
    },
    LOCAL_USAGE.runnerStart,
  );
  if (positionals.length) throw new UsageError(`unexpected argument ${positionals[0]}`, LOCAL_USAGE.runnerStart);
  if (!existsSync(RUNNER_ENTRY)) throw new CliError(`the runner manager (${RUNNER_ENTRY}) is not in this installation`);
  let url = withEnv(await readConfig(configDir(io.env, globals.configDir)), io.env).url;
  let token = io.env.SFP_REGISTRATION_TOKEN?.trim() || undefined;
  if (values.pool) {
    // With --pool the logged-in owner mints a one-use registration token for this runner.
    const s = await connect(io, globals);
    url = s.url;
    token = (await registrationToken(s.client, s.project, { pool: values.pool, labels: values.labels, uses: 1 })).token;
  }
  if (!url) throw new CliError("no edge URL: run sfp-edge login, or set SFP_EDGE_URL");
  const env = runnerEnv(io.env, {
    url,
    registrationToken: token,
    name: values.name,
    labels: values.labels,
    slots: values.slots === undefined ? undefined : integer(values.slots, "--slots", LOCAL_USAGE.runnerStart),
    ephemeral: values.ephemeral,
    listen: values.listen,
    stateFile: values["state-file"],
  });
  if (!globals.json) io.stderr.write(`starting the runner manager for ${url}\n`);
  const child = spawn(process.execPath, [RUNNER_ENTRY], { env, stdio: "inherit" });
  // Ctrl-C reaches the child directly (same process group); forwarding it too would count as the
  // manager's second signal, which cancels running jobs. A SIGTERM sent to us alone is passed on.
  const ignoreInt = () => {};
  const forwardTerm = () => child.kill("SIGTERM");
  process.on("SIGINT", ignoreInt);
  process.on("SIGTERM", forwardTerm);
  const code = await new Promise<number>((done) => {
    child.on("error", (err) => {
      io.stderr.write(`error: cannot start the runner manager: ${err.message}\n`);
      done(EXIT.failed);
    });
    child.on("exit", (status, signal) => done(status ?? (signal ? 128 + 15 : EXIT.failed)));
  });
  process.off("SIGINT", ignoreInt);
  process.off("SIGTERM", forwardTerm);
  return code;
}

export const REGISTER_CREDENTIAL_ENTRY = resolve(import.meta.dirname, "..", "..", "runner", "register-credential.ts");

/**
 * Stores a credential with the runner's own program (runner/register-credential.ts) in a child
 * process: the CLI talks to the runner across a process boundary, never by import, and the secret
 * travels on the child's stdin only. Answers what the program printed (never the secret).
 */
export async function storeCredential<T>(env: NodeJS.ProcessEnv, request: Record<string, unknown>): Promise<T> {
  if (!existsSync(REGISTER_CREDENTIAL_ENTRY)) throw new CliError(`the runner is not part of this installation (${REGISTER_CREDENTIAL_ENTRY} is missing)`);
  // The child needs the credential store's settings, not the person's API token.
  const childEnv = { ...env };
  delete childEnv.SFP_EDGE_TOKEN;
  const child = spawn(process.execPath, [REGISTER_CREDENTIAL_ENTRY], { env: childEnv, stdio: ["pipe", "pipe", "pipe"] });
  const out: Buffer[] = [];
  const err: Buffer[] = [];
  child.stdout.on("data", (d: Buffer) => out.push(d));
  child.stderr.on("data", (d: Buffer) => err.push(d));
  child.stdin.end(JSON.stringify(request));
  const code = await new Promise<number>((done) => {
    child.on("error", () => done(-1));
    child.on("exit", (status) => done(status ?? -1));
  });
  if (code !== 0) throw new CliError(Buffer.concat(err).toString("utf8").trim() || `storing the credentials failed (exit ${code})`);
  return JSON.parse(Buffer.concat(out).toString("utf8")) as T;
}

export async function orgRegister(io: Io, globals: Globals, argv: string[]): Promise<number> {
  const { values, positionals } = parse(
    argv,
    {
      alias: { type: "string" },
      "sfdx-auth-url-file": { type: "string" },
      project: { type: "string" },
      pool: { type: "string" },
      "local-only": { type: "boolean" },
      ...ORG_SETTING_FLAGS,
    },
    LOCAL_USAGE.orgRegister,
  );
  // Checked before any credential is stored, so a typo costs nothing.
  const settings = orgSettingsBody(values, LOCAL_USAGE.orgRegister);
  if (positionals.length) throw new UsageError(`unexpected argument ${positionals[0]}`, LOCAL_USAGE.orgRegister);
  if (!values.alias) throw new UsageError("--alias is required", LOCAL_USAGE.orgRegister);
  const file = values["sfdx-auth-url-file"];
  if (!file) throw new UsageError("--sfdx-auth-url-file is required (the URL is a secret: never pass it as an argument)", LOCAL_USAGE.orgRegister);
  const sfdxAuthUrl = (file === "-" ? await io.readStdin() : await readText(file, "sfdx auth URL file")).trim();
  const stored = withEnv(await readConfig(configDir(io.env, globals.configDir)), io.env);
  const loggedIn = Boolean(stored.url && stored.token && stored.project);
  const project = values.project ?? stored.project;

  const registered = await storeCredential<{ alias: string; project: string; instanceUrl: string }>(io.env, {
    kind: "org",
    alias: values.alias,
    sfdxAuthUrl,
    project,
  });

  let pool: string | undefined;
  if (loggedIn && !values["local-only"]) {
    // The edge learns only metadata; it needs the alias to route tasks to the right pool.
    const s = await connect(io, globals);
    const body: Record<string, unknown> = { ...settings };
    if (values.pool) body.pool = values.pool;
    if (registered.instanceUrl.startsWith("https://")) body.instanceUrl = registered.instanceUrl;
    const { body: answer } = await s.client.request<{ org: { pool: string } }>("PUT", projectPath(s, `/orgs/${encodeURIComponent(values.alias)}`), { body });
    pool = answer.org.pool;
  }
  if (globals.json) printJson(io, { ...registered, ...(pool ? { pool } : {}) });
  else {
    line(io, `stored the credentials of ${registered.alias} (${registered.instanceUrl}) for project ${registered.project}`);
    if (pool) line(io, `the edge routes ${registered.alias}'s tasks to pool ${pool}`);
    else if (!values["local-only"]) line(io, "not logged in: register the alias on the edge with sfp-edge org put");
  }
  return EXIT.ok;
}
