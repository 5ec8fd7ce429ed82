// The child processes `npm start` runs: each in its own process group (so that a terminal's Ctrl-C
// reaches only the supervisor, which then stops them in order), its output appended to a log file,
// and stopped by signalling the group leader, waiting for the whole group to be gone, then SIGKILL.
import { spawn, type ChildProcess } from "node:child_process";
import { closeSync, openSync, readdirSync, readFileSync } from "node:fs";

export interface Child {
  name: string;
  pid: number;
  child: ChildProcess;
  logFile: string;
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  alive(): boolean;
}

export function startChild(name: string, command: string, args: string[], opts: { cwd: string; env: NodeJS.ProcessEnv; logFile: string }): Child {
  // The log is opened for the child itself: its output survives the supervisor, and no pipe can fill up.
  const fd = openSync(opts.logFile, "a", 0o600);
  let child: ChildProcess;
  try {
    child = spawn(command, args, { cwd: opts.cwd, env: opts.env, stdio: ["ignore", fd, fd], detached: true });
  } finally {
    closeSync(fd);
  }
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) => {
    child.once("exit", (code, signal) => resolve({ code, signal }));
    child.once("error", () => resolve({ code: -1, signal: null }));
  });
  if (child.pid === undefined) throw new Error(`${name} did not start (${command})`);
  return {
    name,
    pid: child.pid,
    child,
    logFile: opts.logFile,
    exited,
    alive: () => child.exitCode === null && child.signalCode === null,
  };
}

/** Live (non-zombie) processes whose process group is `pgid`, from /proc. */
export function groupMembers(pgid: number): number[] {
  const out: number[] = [];
  for (const name of readdirSync("/proc")) {
    if (!/^\d+$/.test(name)) continue;
    let stat: string;
    try {
      stat = readFileSync(`/proc/${name}/stat`, "utf8");
    } catch {
      continue;
    }
    // Fields after the command name (which may hold spaces): state, ppid, pgrp, …
    const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
    if (fields[0] !== "Z" && fields[0] !== "X" && Number(fields[2]) === pgid) out.push(Number(name));
  }
  return out;
}

function signalGroup(pgid: number, signal: NodeJS.Signals): void {
  try {
    process.kill(-pgid, signal);
  } catch {
    // the group is already empty
  }
}

async function groupGone(c: Child, ms: number): Promise<boolean> {
  const deadline = Date.now() + ms;
  for (;;) {
    if (!c.alive() && groupMembers(c.pid).length === 0) return true;
    if (Date.now() >= deadline) return false;
    await new Promise((r) => setTimeout(r, 100));
  }
}

/**
 * Stops a child and everything in its process group: `signal` to the leader (which stops its own
 * children as it sees fit), after `graceMs` the same signal to the whole group, and after as long
 * again SIGKILL to the group. Resolves once no process of the group is left.
 */
export async function stopChild(c: Child, signal: NodeJS.Signals, graceMs: number): Promise<void> {
  if (c.alive()) c.child.kill(signal);
  if (await groupGone(c, graceMs)) return;
  signalGroup(c.pid, signal);
  if (await groupGone(c, graceMs)) return;
  signalGroup(c.pid, "SIGKILL");
  await c.exited;
  while (groupMembers(c.pid).length > 0) await new Promise((r) => setTimeout(r, 50));
}

/** SIGKILL to the whole group at once, for a second Ctrl-C. */
export function killChild(c: Child): void {
  signalGroup(c.pid, "SIGKILL");
}
