// What every command shares: its streams and environment (injected, so tests run commands in
// process), the exit codes, argument parsing with the global flags, and how errors are told.
import { parseArgs, type ParseArgsConfig } from "node:util";
import { EdgeError } from "../protocol/client.ts";

export interface Io {
  stdout: { write(s: string): unknown; isTTY?: boolean; columns?: number };
  stderr: { write(s: string): unknown };
  env: NodeJS.ProcessEnv;
  readStdin(): Promise<string>;
}

export const EXIT = {
  ok: 0,
  /** The request failed, or the task ended other than `succeeded`. */
  failed: 1,
  /** The command line itself is wrong. */
  usage: 2,
} as const;

export interface Globals {
  json: boolean;
  configDir?: string;
}

/** A mistake on the command line: told with the command's usage, exit code 2. */
export class UsageError extends Error {
  readonly usage?: string;
  constructor(message: string, usage?: string) {
    super(message);
    this.name = "UsageError";
    this.usage = usage;
  }
}

/** A failure the CLI explains itself (a missing login, an unreadable file): exit code 1. */
export class CliError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "CliError";
  }
}

type Options = NonNullable<ParseArgsConfig["options"]>;

/**
 * Parses a command's own flags strictly (an unknown flag is a usage error, not silently ignored).
 * `--json` and `--config-dir` were taken out by `splitGlobals` before this runs.
 */
export function parse<O extends Options>(argv: string[], options: O, usage: string) {
  try {
    return parseArgs({ args: argv, options, allowPositionals: true, strict: true });
  } catch (err) {
    throw new UsageError(err instanceof Error ? err.message : String(err), usage);
  }
}

/** Takes the global flags out wherever they appear, so `sfp-edge task get X --json` and `sfp-edge --json task get X` agree. */
export function splitGlobals(argv: string[]): { globals: Globals; rest: string[] } {
  const globals: Globals = { json: false };
  const rest: string[] = [];
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i];
    if (arg === "--") {
      rest.push(...argv.slice(i));
      break;
    }
    if (arg === "--json") globals.json = true;
    else if (arg === "--config-dir") {
      const value = argv[++i];
      if (value === undefined) throw new UsageError("option '--config-dir <dir>' argument missing");
      globals.configDir = value;
    } else if (arg.startsWith("--config-dir=")) globals.configDir = arg.slice("--config-dir=".length);
    else rest.push(arg);
  }
  return { globals, rest };
}

export function printJson(io: Io, value: unknown): void {
  io.stdout.write(`${JSON.stringify(value)}\n`);
}

export function line(io: Io, text = ""): void {
  io.stdout.write(`${text}\n`);
}

/** One clear sentence per failure, with what to do about it where we know. */
export function describeError(err: unknown): { message: string; code: string; status?: number; requestId?: string; hint?: string } {
  if (err instanceof EdgeError) {
    const base = { message: err.message, code: err.code, status: err.status, requestId: err.requestId };
    switch (err.code) {
      case "network":
        return { ...base, hint: "check the URL (sfp-edge login --url …) and your network" };
      case "unauthenticated":
        return { ...base, hint: "run sfp-edge login with a valid token" };
      case "forbidden":
        return { ...base, hint: "your token's role may not do this; ask a project owner" };
      case "not_found":
        return { ...base, hint: "check the id, and that your login is for the right project" };
      case "rate_limited":
        return { ...base, hint: `rate limited; retry${err.retryAfter ? ` after ${err.retryAfter} s` : " later"}` };
      default:
        return base;
    }
  }
  if (err instanceof UsageError || err instanceof CliError) return { message: err.message, code: err instanceof UsageError ? "usage" : "error" };
  return { message: err instanceof Error ? err.message : String(err), code: "internal" };
}

export function reportError(io: Io, globals: Globals, err: unknown): number {
  const d = describeError(err);
  if (globals.json) {
    io.stderr.write(`${JSON.stringify({ error: d })}\n`);
  } else {
    const where = d.status ? ` (${d.code}, HTTP ${d.status}${d.requestId ? `, request ${d.requestId}` : ""})` : "";
    io.stderr.write(`error: ${d.message}${where}\n`);
    if (d.hint) io.stderr.write(`hint: ${d.hint}\n`);
    if (err instanceof UsageError && err.usage) io.stderr.write(`usage: ${err.usage}\n`);
  }
  return err instanceof UsageError ? EXIT.usage : EXIT.failed;
}
