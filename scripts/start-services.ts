// How `npm start` launches each service and knows it is ready: the edge in workerd through
// `wrangler dev` (offline), the Caddy origin, and the runner manager; plus the dev project on the edge.
import { spawnSync } from "node:child_process";
import { existsSync, readFileSync } from "node:fs";
import { hostname } from "node:os";
import { join } from "node:path";
import { connect as tlsConnect } from "node:tls";
import { caddyArgs, caddyEnv, localRootCa } from "../caddy/process.ts";
import { EdgeClient, EdgeError } from "../protocol/client.ts";
import { readJson, writeSecretFile, type StateLayout } from "./start-state.ts";
import { startChild, type Child } from "./start-processes.ts";

export const WORKER_SECRETS = ["ADMIN_TOKEN", "TOKEN_SIGNING_KEY", "ORIGIN_TOKEN"] as const;
export type WorkerSecrets = Record<(typeof WORKER_SECRETS)[number], string>;

/** How long each service may take to come up on a loaded machine before `npm start` gives up. */
const READY_TIMEOUT_MS = { edge: 180_000, caddy: 60_000, runner: 90_000 };

async function until<T>(what: string, child: Child | null, timeoutMs: number, check: () => Promise<T | null>): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (child && !child.alive()) throw new Error(`${child.name} exited before it was ready; see ${child.logFile}`);
    const value = await check().catch(() => null);
    if (value !== null) return value;
    if (Date.now() > deadline) throw new Error(`${what} was not ready within ${timeoutMs / 1000} s${child ? `; see ${child.logFile}` : ""}`);
    await new Promise((r) => setTimeout(r, 250));
  }
}

/**
 * `wrangler dev` with everything that would reach Cloudflare switched off: usage metrics and error
 * reports, the update check behind the banner, the `Request.cf` download, the skills prompt, remote
 * bindings and the container runtime. (Checked with strace: it then connects only to loopback.)
 */
export async function startEdge(opts: {
  /** Called as soon as the process exists, so that a failed start still stops it. */
  track: (c: Child) => void;
  repoRoot: string;
  layout: StateLayout;
  port: number;
  poolOrigin: string;
  extraCaFile: string | null;
}): Promise<{ child: Child; url: string }> {
  const wrangler = join(opts.repoRoot, "node_modules", "wrangler", "bin", "wrangler.js");
  const args = [
    wrangler,
    "dev",
    "--config",
    join(opts.repoRoot, "wrangler.toml"),
    "--ip",
    "127.0.0.1",
    "--port",
    String(opts.port),
    "--persist-to",
    opts.layout.edgeState,
    "--env-file",
    opts.layout.devVars,
    "--local",
    "--enable-containers=false",
    "--show-interactive-dev-session=false",
    "--inspector-port",
    "0",
    "--var",
    `POOL_ORIGINS:${JSON.stringify({ "*": opts.poolOrigin })}`,
  ];
  const env: NodeJS.ProcessEnv = {
    ...process.env,
    WRANGLER_SEND_METRICS: "false",
    WRANGLER_SEND_ERROR_REPORTS: "false",
    WRANGLER_HIDE_BANNER: "true",
    WRANGLER_NO_SKILLS_UPDATE_PROMPTS: "true",
    CLOUDFLARE_CF_FETCH_ENABLED: "false",
    // miniflare adds this file to workerd's trusted CAs: the edge's wakes reach Caddy over TLS.
    ...(opts.extraCaFile ? { NODE_EXTRA_CA_CERTS: opts.extraCaFile } : {}),
  };
  const child = startChild("edge", process.execPath, args, { cwd: opts.repoRoot, env, logFile: join(opts.layout.logs, "edge.log") });
  opts.track(child);
  const url = `http://127.0.0.1:${opts.port}`;
  await until("the edge (wrangler dev)", child, READY_TIMEOUT_MS.edge, async () => {
    const res = await fetch(`${url}/healthz`);
    await res.body?.cancel();
    return res.status === 200 ? true : null;
  });
  return { child, url };
}

export function caddyInstalled(): boolean {
  return spawnSync("caddy", ["version"], { stdio: "ignore" }).error === undefined;
}

/** A TLS handshake verified with `ca` (not an HTTP request: with no manager up yet, Caddy retries upstreams for seconds). */
function tlsHandshake(port: number, ca: string): Promise<true | null> {
  return new Promise((done) => {
    const socket = tlsConnect({ host: "127.0.0.1", port, ca, timeout: 5000 }, () => {
      socket.end();
      done(true);
    });
    socket.on("error", () => done(null));
    socket.on("timeout", () => {
      socket.destroy();
      done(null);
    });
  });
}

/** Caddy with the repository's Caddyfile, TLS from its own local CA (kept in the state dir). */
export async function startCaddy(opts: {
  /** Called as soon as the process exists, so that a failed start still stops it. */
  track: (c: Child) => void;
  repoRoot: string;
  layout: StateLayout;
  port: number;
  managerAddress: string;
  originToken: string;
}): Promise<{ child: Child; url: string; rootCa: string }> {
  const home = opts.layout.caddyHome;
  const env = caddyEnv({ home, port: opts.port, upstreams: opts.managerAddress, originToken: opts.originToken });
  const child = startChild("caddy", "caddy", caddyArgs(), { cwd: opts.repoRoot, env, logFile: join(opts.layout.logs, "caddy.log") });
  opts.track(child);
  const rootCa = localRootCa(home);
  const url = `https://127.0.0.1:${opts.port}`;
  await until("Caddy", child, READY_TIMEOUT_MS.caddy, async () => (existsSync(rootCa) ? tlsHandshake(opts.port, readFileSync(rootCa, "utf8")) : null));
  return { child, url, rootCa };
}

export interface DevProject {
  project: string;
  ownerToken: string;
  createdAt: string;
}

/**
 * The dev project kept in the state dir, if the edge still knows it (the owner token reads its task
 * list); else a new one, made with the admin token and saved (mode 0600).
 */
export async function ensureDevProject(edgeUrl: string, adminToken: string, file: string): Promise<DevProject & { reused: boolean }> {
  const saved = readJson<DevProject>(file);
  if (saved?.project && saved.ownerToken) {
    try {
      await new EdgeClient(edgeUrl, saved.ownerToken).request("GET", `/v1/projects/${saved.project}/tasks?limit=1`);
      return { ...saved, reused: true };
    } catch (err) {
      if (!(err instanceof EdgeError) || err.status === 0 || err.status >= 500) throw err;
      // 401/404: the edge's state was removed or its signing key changed; a new project follows.
    }
  }
  const { body } = await new EdgeClient(edgeUrl, adminToken).request<{ project: { id: string }; ownerToken: string }>("POST", "/v1/projects", {
    body: { name: "dev" },
  });
  const created: DevProject = { project: body.project.id, ownerToken: body.ownerToken, createdAt: new Date().toISOString() };
  writeSecretFile(file, `${JSON.stringify(created, null, 2)}\n`);
  return { ...created, reused: false };
}

/** `node runner/main.ts` on the local credential store; ready once it holds a runner id. */
export async function startRunner(opts: {
  /** Called as soon as the process exists, so that a failed start still stops it. */
  track: (c: Child) => void;
  repoRoot: string;
  layout: StateLayout;
  edgeUrl: string;
  registrationToken: string;
  listenPort: number;
  originToken: string;
  credentialsKey: string;
}): Promise<{ child: Child; runnerId: string }> {
  // A fresh environment: no SFP_*, INFISICAL_* or SUPABASE_* of the developer's shell leaks in.
  const env: NodeJS.ProcessEnv = {
    PATH: process.env.PATH,
    HOME: process.env.HOME,
    LANG: process.env.LANG,
    SFP_EDGE_URL: opts.edgeUrl,
    SFP_REGISTRATION_TOKEN: opts.registrationToken,
    SFP_RUNNER_NAME: `local-${hostname()}`,
    SFP_RUNNER_SLOTS: "2",
    SFP_RUNNER_STATE_FILE: opts.layout.runnerStateFile,
    SFP_RUNNER_LISTEN: `127.0.0.1:${opts.listenPort}`,
    SFP_ORIGIN_TOKEN: opts.originToken,
    SFP_CREDENTIALS: "local",
    SFP_LOCAL_CREDENTIALS_FILE: opts.layout.credentialsFile,
    SFP_LOCAL_CREDENTIALS_KEY: opts.credentialsKey,
    // Local development: deploy zips may come from a server on this machine (zip-fetch.ts).
    SFP_ALLOW_LOOPBACK_HTTP: "true",
  };
  const child = startChild("runner", process.execPath, [join(opts.repoRoot, "runner", "main.ts")], {
    cwd: opts.repoRoot,
    env,
    logFile: join(opts.layout.logs, "runner.log"),
  });
  opts.track(child);
  const runnerId = await until("the runner manager", child, READY_TIMEOUT_MS.runner, async () => {
    const res = await fetch(`http://127.0.0.1:${opts.listenPort}/healthz`);
    const body = (await res.json()) as { runnerId?: string | null };
    return body.runnerId ?? null;
  });
  return { child, runnerId };
}
