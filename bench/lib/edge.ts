// Starts the edge Worker and its actors on bare workerd (`workerd serve` with a generated capnp
// config; not `wrangler dev`, whose proxy costs ~10×, nor Miniflare, whose entry worker adds ~100 µs
// of CPU to every request here), from wrangler.toml, with rate limits raised out of the way.
import { build } from "esbuild";
import { execFileSync, spawn } from "node:child_process";
import { appendFileSync, mkdirSync, mkdtempSync, openSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { unstable_getMiniflareWorkerOptions } from "wrangler";
import { freePort } from "../../test/doubles/free-port.ts";

export const REPO = resolve(import.meta.dirname, "..", "..");
export const ADMIN_TOKEN = "bench-admin-token";

export interface BareEdge {
  url: string;
  /** The workerd process serving it, for CPU accounting. */
  pid: number;
  /** Where workerd's output (the Worker's logs) goes while it runs. */
  logFile: string;
  /** The bundle workerd runs, for reading a profile against. */
  bundle: string;
  /** workerd's inspector (host:port) when `BENCH_PROFILE` is set, for bench/lib/profile.ts. */
  inspector?: string;
  stop(): Promise<void>;
}

/** Bundles `entry` as wrangler would (ES modules, cloudflare:* external). */
async function bundle(entry: string, dir: string): Promise<string> {
  const outfile = join(dir, "worker.js");
  await build({
    entryPoints: [entry],
    bundle: true,
    format: "esm",
    platform: "neutral",
    target: "es2022",
    outfile,
    external: ["cloudflare:*", "node:*"],
    conditions: ["workerd", "worker", "browser"],
    mainFields: ["module", "main"],
    logLevel: "warning",
  });
  return outfile;
}

/** What a capnp config needs to serve one bundled Worker on bare workerd. */
interface BareWorker {
  scriptPath: string;
  compatibilityDate: string;
  compatibilityFlags: string[];
  text: Record<string, string>;
  durableObjects: Record<string, string>;
  rateLimits: string[];
}

// Rate limits raised out of the way: a wrapped binding that always says yes.
const RATE_LIMIT_STUB = "export default function () { return { limit: async () => ({ success: true }) }; }\n";

function capnp(dir: string, port: number, w: BareWorker): string {
  const q = JSON.stringify;
  const bindings = [
    ...Object.entries(w.text).map(([name, value]) => `(name = ${q(name)}, text = ${q(value)})`),
    ...Object.entries(w.durableObjects).map(([name, cls]) => `(name = ${q(name)}, durableObjectNamespace = ${q(cls)})`),
    ...w.rateLimits.map((name) => `(name = ${q(name)}, wrapped = (moduleName = "bench:ratelimit"))`),
  ];
  const classes = [...new Set(Object.values(w.durableObjects))].map((cls) => `(className = ${q(cls)}, uniqueKey = ${q(`bench-${cls}`)}, enableSql = true)`);
  return `using Workerd = import "/workerd/workerd.capnp";
const config :Workerd.Config = (
  services = [
    (name = "main", worker = .worker),
    (name = "do-disk", disk = (path = ${q(join(dir, "do"))}, writable = true)),
  ],
  sockets = [(name = "http", address = ${q(`127.0.0.1:${port}`)}, http = (), service = "main")],
  extensions = [(modules = [(name = "bench:ratelimit", esModule = embed "ratelimit.js", internal = true)])],
);
const worker :Workerd.Worker = (
  modules = [(name = "worker.js", esModule = embed ${q(w.scriptPath.slice(dir.length + 1))})],
  compatibilityDate = ${q(w.compatibilityDate)},
  compatibilityFlags = [${w.compatibilityFlags.map((f) => q(f)).join(", ")}],
  bindings = [${bindings.join(",\n    ")}],
  durableObjectNamespaces = [${classes.join(", ")}],
  durableObjectStorage = (localDisk = "do-disk"),
);
`;
}

// Every workerd this process started and has not stopped: killed when the process exits, however it
// exits (bench/run.ts turns SIGINT and SIGTERM into an exit), so an interrupted run leaves none behind.
const running = new Set<number>();
process.once("exit", () => {
  for (const pid of running) {
    try {
      process.kill(pid, "SIGKILL");
    } catch {
      // already gone
    }
  }
});

/** Runs a bundled Worker on bare workerd (`workerd serve`), the way the peer's figures were made. */
async function serveBare(dir: string, w: BareWorker): Promise<BareEdge> {
  mkdirSync(join(dir, "do"), { recursive: true });
  writeFileSync(join(dir, "ratelimit.js"), RATE_LIMIT_STUB);
  const port = await freePort();
  writeFileSync(join(dir, "config.capnp"), capnp(dir, port, w));
  const log = openSync(join(dir, "workerd.log"), "w");
  const inspector = process.env.BENCH_PROFILE ? `127.0.0.1:${await freePort()}` : undefined;
  // workerd holds two descriptors per open connection (the socket and a dup that watches for the
  // peer hanging up) and does not raise its own limit: the shell raises the soft limit to the hard
  // one, then becomes workerd (same pid). An accept() past the limit ends workerd (bench/README B7).
  const workerd = join(REPO, "node_modules", "workerd", "bin", "workerd");
  const args = ["serve", join(dir, "config.capnp"), "--experimental", ...(inspector ? [`--inspector-addr=${inspector}`] : [])];
  const child = spawn("/bin/sh", ["-c", 'ulimit -n "$(ulimit -Hn)" 2>/dev/null; exec "$0" "$@"', workerd, ...args], {
    cwd: dir,
    stdio: ["ignore", log, log],
  });
  running.add(child.pid!);
  const url = `http://127.0.0.1:${port}`;
  for (let i = 0; ; i++) {
    if (child.exitCode !== null) throw new Error(`workerd exited: ${readFileSync(join(dir, "workerd.log"), "utf8").slice(-2000)}`);
    try {
      await fetch(`${url}/`);
      break;
    } catch {
      if (i > 200) throw new Error("workerd did not start listening");
      await new Promise((r) => setTimeout(r, 50));
    }
  }
  return {
    url,
    pid: child.pid!,
    logFile: join(dir, "workerd.log"),
    bundle: w.scriptPath,
    inspector,
    stop: async () => {
      child.kill("SIGTERM");
      await new Promise((r) => (child.exitCode !== null ? r(null) : child.once("exit", r)));
      running.delete(child.pid!);
      if (process.env.BENCH_KEEP_LOG) appendFileSync(process.env.BENCH_KEEP_LOG, readFileSync(join(dir, "workerd.log")));
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

/**
 * The edge Worker and its actors from wrangler.toml, on bare workerd, with rate limits out of the way.
 * `entry` replaces edge/index.ts with a module that re-exports it (e.g. with an instrumented actor).
 */
export async function startEdge(opts: { vars?: Record<string, string>; entry?: string } = {}): Promise<BareEdge> {
  const dir = mkdtempSync(join(tmpdir(), "sfp-bench-edge-"));
  const scriptPath = await bundle(opts.entry ?? join(REPO, "edge", "index.ts"), dir);
  const { workerOptions } = unstable_getMiniflareWorkerOptions(join(REPO, "wrangler.toml"));
  const durableObjects: Record<string, string> = {};
  for (const [name, d] of Object.entries(workerOptions.durableObjects ?? {}))
    durableObjects[name] = typeof d === "string" ? d : (d as { className: string }).className;
  return serveBare(dir, {
    scriptPath,
    compatibilityDate: String(workerOptions.compatibilityDate),
    compatibilityFlags: Array.isArray(workerOptions.compatibilityFlags) ? workerOptions.compatibilityFlags.map(String) : [],
    text: {
      ...(workerOptions.bindings as Record<string, string>),
      ADMIN_TOKEN,
      TOKEN_SIGNING_KEY: "bench-signing-key-0123456789abcdef0123456789",
      ORIGIN_TOKEN: "bench-origin-token",
      ...opts.vars,
    },
    durableObjects,
    rateLimits: ["API_LIMIT", "WEBHOOK_LIMIT", "UNAUTH_LIMIT"],
  });
}

/** The naive baseline: a Worker whose every request is one Durable Object RPC and one SQLite insert. */
export async function startNaive(): Promise<BareEdge> {
  const dir = mkdtempSync(join(tmpdir(), "sfp-bench-naive-"));
  const scriptPath = await bundle(join(REPO, "bench", "naive", "worker.ts"), dir);
  return serveBare(dir, { scriptPath, compatibilityDate: "2026-11-01", compatibilityFlags: [], text: {}, durableObjects: { LOG: "Log" }, rateLimits: [] });
}

/** CPU seconds (user + system) a process has used so far, from /proc. */
export function cpuSeconds(pid: number): number {
  const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
  const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
  const ticks = Number(execFileSync("getconf", ["CLK_TCK"]).toString().trim()) || 100;
  return (Number(fields[11]) + Number(fields[12])) / ticks;
}
