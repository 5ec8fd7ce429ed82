// Runs the real `sfp-edge` command (cli/bin.ts on this Node) as a child process, never with a
// synchronous spawn: the edge under test answers from this same process's event loop.
import { spawn, type ChildProcess } from "node:child_process";
import { resolve } from "node:path";
import { REPO_ROOT } from "./edge-process.ts";

export const CLI_BIN = resolve(REPO_ROOT, "cli", "bin.ts");

export interface CliRun {
  child: ChildProcess;
  stdout(): string;
  stderr(): string;
  /** Resolves once stdout (or stderr) matches. */
  waitFor(pattern: RegExp, stream?: "stdout" | "stderr", timeoutMs?: number): Promise<void>;
  exit: Promise<number>;
}

/** `stdin`: what the command reads on its standard input (nothing by default). */
export function startCli(args: string[], env: NodeJS.ProcessEnv = {}, stdin = ""): CliRun {
  const base: NodeJS.ProcessEnv = { ...process.env };
  for (const name of ["SFP_EDGE_URL", "SFP_EDGE_TOKEN", "SFP_EDGE_PROJECT", "XDG_CONFIG_HOME"]) delete base[name];
  const child = spawn(process.execPath, [CLI_BIN, ...args], { env: { ...base, ...env }, stdio: ["pipe", "pipe", "pipe"] });
  child.stdin?.end(stdin);
  const out: string[] = [];
  const err: string[] = [];
  const waiters: (() => void)[] = [];
  const poke = () => {
    for (const w of waiters.splice(0)) w();
  };
  child.stdout?.on("data", (d: Buffer) => {
    out.push(d.toString());
    poke();
  });
  child.stderr?.on("data", (d: Buffer) => {
    err.push(d.toString());
    poke();
  });
  const exit = new Promise<number>((done) => child.on("close", (code, signal) => done(code ?? (signal ? 128 : -1))));
  const run: CliRun = {
    child,
    stdout: () => out.join(""),
    stderr: () => err.join(""),
    exit,
    waitFor(pattern, stream = "stdout", timeoutMs = 30_000) {
      return new Promise((resolve, reject) => {
        const timer = setTimeout(
          () => reject(new Error(`timed out waiting for ${pattern} on ${stream}; stdout: ${run.stdout()} stderr: ${run.stderr()}`)),
          timeoutMs,
        );
        const check = () => {
          if (pattern.test(stream === "stdout" ? run.stdout() : run.stderr())) {
            clearTimeout(timer);
            resolve();
          } else waiters.push(check);
        };
        check();
      });
    },
  };
  return run;
}

/** Runs to the end; answers the exit code and output. */
export async function cli(args: string[], env: NodeJS.ProcessEnv = {}, stdin = ""): Promise<{ code: number; stdout: string; stderr: string }> {
  const run = startCli(args, env, stdin);
  const code = await run.exit;
  return { code, stdout: run.stdout(), stderr: run.stderr() };
}
