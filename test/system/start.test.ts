// `npm start` as a newcomer runs it (`node scripts/start.ts`), in a state directory and on ports of
// its own so that it never meets a developer's running stack: it comes up, the command it prints
// runs an org-check through its runner and Salesforce double, Ctrl-C leaves no process behind, and a
// second start reuses the dev project.
import { spawn, spawnSync, type ChildProcess } from "node:child_process";
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { freePort } from "../doubles/free-port.ts";
import { cli } from "./cli-process.ts";
import { REPO_ROOT } from "./edge-process.ts";
import { processAlive, waitFor } from "./manager-process.ts";

const START = join(REPO_ROOT, "scripts", "start.ts");
const caddyMissing = spawnSync("caddy", ["version"]).error !== undefined;
if (caddyMissing) {
  if (process.env.SFP_REQUIRE_TOOLS === "1") throw new Error("caddy is required (SFP_REQUIRE_TOOLS=1): apt-get install -y caddy");
  console.warn("\n*** test/system/start.test.ts: caddy is missing, so `npm start` runs without its origin (apt-get install -y caddy) ***\n");
}

interface Started {
  child: ChildProcess;
  output(): string;
  exit: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
}

const stateDir = mkdtempSync(join(tmpdir(), "sfp-start-"));
const configDir = mkdtempSync(join(tmpdir(), "sfp-start-cli-"));
const running = new Set<Started>();
let env: NodeJS.ProcessEnv;

function start(): Started {
  const child = spawn(process.execPath, [START], { cwd: REPO_ROOT, env, stdio: ["ignore", "pipe", "pipe"] });
  const chunks: string[] = [];
  child.stdout!.on("data", (c: Buffer) => chunks.push(c.toString()));
  child.stderr!.on("data", (c: Buffer) => chunks.push(c.toString()));
  const exit = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) =>
    child.once("exit", (code, signal) => resolve({ code, signal })),
  );
  const s: Started = { child, output: () => chunks.join(""), exit };
  running.add(s);
  void exit.then(() => running.delete(s));
  return s;
}

/** The pids `npm start` says it started (its lock file), and every process in their groups. */
function startedProcesses(): number[] {
  const lock = JSON.parse(readFileSync(join(stateDir, "start.pid"), "utf8")) as { children: Record<string, number> };
  const groups = new Set(Object.values(lock.children));
  const out: number[] = [];
  for (const name of readdirSync("/proc")) {
    if (!/^\d+$/.test(name)) continue;
    try {
      const stat = readFileSync(`/proc/${name}/stat`, "utf8");
      const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
      if (groups.has(Number(fields[2])) && fields[0] !== "Z") out.push(Number(name));
    } catch {
      // gone meanwhile
    }
  }
  return out;
}

/** What the banner says: URL, project, owner token, and the command lines to try. */
function banner(text: string): { url: string; project: string; token: string; commands: string[][] } {
  const url = /API\s+(http:\/\/127\.0\.0\.1:\d+)/.exec(text)?.[1];
  const project = /project\s+(prj_\w+)/.exec(text)?.[1];
  const token = /owner token\s+(\S+)/.exec(text)?.[1];
  const commands = [...text.matchAll(/^\s+npx sfp-edge (.+)$/gm)].map((m) => m[1].split(" "));
  if (!url || !project || !token || commands.length === 0) throw new Error(`no banner in:\n${text}`);
  return { url, project, token, commands };
}

afterAll(async () => {
  // A failed test must not leave a stack running: kill the supervisor and every group it started.
  for (const s of running) s.child.kill("SIGKILL");
  if (existsSync(join(stateDir, "start.pid"))) for (const pid of startedProcesses()) process.kill(pid, "SIGKILL");
  rmSync(stateDir, { recursive: true, force: true });
  rmSync(configDir, { recursive: true, force: true });
});

describe("npm start", () => {
  it("starts the stack, runs the printed command's org-check to success, stops every process on SIGINT, and reuses the dev project on a second start", async () => {
    env = {
      ...process.env,
      SFP_STATE_DIR: stateDir,
      SFP_EDGE_PORT: String(await freePort()),
      SFP_SALESFORCE_PORT: String(await freePort()),
      SFP_RUNNER_PORT: String(await freePort()),
      SFP_ORIGIN_PORT: String(await freePort()),
    };

    const first = start();
    await waitFor(() => /Ctrl-C stops everything/.test(first.output()) || first.child.exitCode !== null, 300_000, "npm start's banner");
    const shown = banner(first.output());
    expect(shown.url).toBe(`http://127.0.0.1:${env.SFP_EDGE_PORT}`);
    expect(first.output()).toMatch(/logs\s+\S+\/logs\//);
    if (!caddyMissing) expect(first.output()).toMatch(/woken through https:\/\/127\.0\.0\.1:\d+/);

    // The secrets and the project live in the state dir, readable by their owner only.
    for (const f of [".dev.vars", "dev-project.json", "credentials.key", "runner-state.json"]) expect(statSync(join(stateDir, f)).mode & 0o777, f).toBe(0o600);
    expect(statSync(stateDir).mode & 0o777).toBe(0o700);

    // The printed commands, as printed (with a config dir of the test's own instead of the user's).
    const [login, create] = shown.commands;
    expect(login).toEqual(["login", "--url", shown.url, "--project", shown.project, "--token", shown.token]);
    expect(create).toEqual(["task", "create", "org-check", "--org", "demo", "--wait"]);
    expect((await cli(["--config-dir", configDir, ...login])).code).toBe(0);
    const check = await cli(["--config-dir", configDir, ...create]);
    expect(check.stderr).toBe("");
    expect(check.code).toBe(0);
    expect(check.stdout).toMatch(/\[status\] running[\s\S]*org 00D\w+ as \S+@\S+[\s\S]*task tsk_\w+ succeeded/);

    const pids = startedProcesses();
    expect(pids.length).toBeGreaterThanOrEqual(caddyMissing ? 3 : 4);
    first.child.kill("SIGINT");
    expect(await first.exit).toEqual({ code: 0, signal: null });
    expect(first.output()).toMatch(/stopped\.\n$/);
    expect(pids.filter(processAlive)).toEqual([]);
    expect(existsSync(join(stateDir, "start.pid"))).toBe(false);

    const second = start();
    await waitFor(() => /Ctrl-C stops everything/.test(second.output()) || second.child.exitCode !== null, 300_000, "the second start's banner");
    const again = banner(second.output());
    expect(again).toMatchObject({ project: shown.project, token: shown.token });
    expect(second.output()).toContain(`${shown.project}  (reused`);
    // The stored login still works against the restarted edge.
    expect((await cli(["--config-dir", configDir, "task", "list", "--json"])).code).toBe(0);

    const pidsAgain = startedProcesses();
    second.child.kill("SIGTERM");
    expect(await second.exit).toEqual({ code: 0, signal: null });
    expect(pidsAgain.filter(processAlive)).toEqual([]);
  }, 900_000);
});
