// Runs the git binary for the checkout cache, isolated from the host's git configuration, with the
// repository token handed to git's credential protocol through a pipe only git's helper reads.
//
// Why a pipe on fd 3: argv is readable by every user of the host (`ps`), the environment of a process
// is readable in /proc/<pid>/environ and is inherited by every grandchild git starts, and a file can
// outlive the job. So the token is written once into an anonymous pipe that git and its children
// inherit as fd 3; the credential helper — a shell function given to git in its own GIT_CONFIG_*
// variables, which hold no secret — reads it only for a `get` about the repository's own host (a
// redirect to another host gets nothing) and ignores `store`/`erase`, and the empty helper before it
// drops any helper of the host's configuration, so the token is never written anywhere.
import { spawn } from "node:child_process";
import { CanceledError } from "../salesforce/context.ts";
import { createMasker } from "../mask.ts";
import { SourceError } from "./errors.ts";

export interface GitAuth {
  /** host[:port] of the repository URL: the helper answers only for it. */
  host: string;
  username: string;
  token: string;
}

export interface GitOptions {
  /** The git program (default `git` on PATH). */
  git?: string;
  cwd?: string;
  signal?: AbortSignal;
  /** Network commands only: who to be at the repository. */
  auth?: GitAuth;
  /** Allow plain http (loopback development only; the caller checks the host). */
  allowHttp?: boolean;
  /** `host:port:addr[,addr]`: the addresses host.ts checked, which git connects to whatever DNS says now. */
  pin?: string;
  /** Each chunk git prints on stderr (progress), masked. */
  onStderr?: (text: string) => void;
}

export class GitFailure extends Error {
  readonly exitCode: number | null;
  readonly stderr: string;
  constructor(args: string[], exitCode: number | null, stderr: string) {
    super(`git ${args[0] ?? ""} exited ${exitCode}: ${stderr.trim().split("\n").at(-1) ?? ""}`);
    this.name = "GitFailure";
    this.exitCode = exitCode;
    this.stderr = stderr;
  }
}

/** Variables a git child may see from the worker: proxies and trust stores, nothing else. */
const PASSTHROUGH = [
  "PATH",
  "HTTPS_PROXY",
  "https_proxy",
  "HTTP_PROXY",
  "http_proxy",
  "NO_PROXY",
  "no_proxy",
  "ALL_PROXY",
  "all_proxy",
  "GIT_SSL_CAINFO",
  "SSL_CERT_FILE",
  "SSL_CERT_DIR",
];
/** A stalled transfer (under 1 KB/s for a minute) fails instead of holding the job until its timeout. */
const LOW_SPEED = { limit: "1000", seconds: "60" };
const STDERR_KEEP = 64 * 1024;

const SAFE_HOST = /^[A-Za-z0-9.-]+(:\d{1,5})?$|^\[[0-9A-Fa-f:.]+\](:\d{1,5})?$/;
const SAFE_USER = /^[A-Za-z0-9._@+-]{1,100}$/;

/** The credential helper: a shell function; git appends the action (get/store/erase) as its argument. */
export function credentialHelper(auth: Pick<GitAuth, "host" | "username">): string {
  if (!SAFE_HOST.test(auth.host)) throw new SourceError("invalid_source", `unexpected repository host ${JSON.stringify(auth.host)}`);
  if (!SAFE_USER.test(auth.username)) throw new SourceError("repo_auth", "the repository user name may hold only letters, digits and . _ @ + -");
  return [
    "!f() {",
    '[ "$1" = get ] || exit 0;',
    "ok=;",
    `while IFS= read -r l; do [ -z "$l" ] && break; [ "$l" = "host=${auth.host}" ] && ok=1; done;`,
    '[ -n "$ok" ] || exit 0;',
    `printf 'username=${auth.username}\\npassword=';`,
    "cat <&3;",
    "printf '\\n';",
    "}; f",
  ].join(" ");
}

export function gitEnv(opts: Pick<GitOptions, "auth" | "allowHttp" | "pin">): Record<string, string> {
  const env: Record<string, string> = {};
  for (const name of PASSTHROUGH) {
    const value = process.env[name];
    if (value !== undefined) env[name] = value;
  }
  env.PATH ??= "/usr/local/bin:/usr/bin:/bin";
  Object.assign(env, {
    LC_ALL: "C", // git's messages in English: errors are classified by their words
    GIT_TERMINAL_PROMPT: "0",
    GIT_CONFIG_NOSYSTEM: "1",
    GIT_CONFIG_GLOBAL: "/dev/null",
  });
  const config: Array<[string, string]> = [
    ["credential.helper", ""],
    ...(opts.auth ? [["credential.helper", credentialHelper(opts.auth)] as [string, string]] : []),
    ["protocol.allow", "never"],
    ["protocol.https.allow", "always"],
    ["protocol.http.allow", opts.allowHttp ? "always" : "never"],
    ["http.lowSpeedLimit", LOW_SPEED.limit],
    ["http.lowSpeedTime", LOW_SPEED.seconds],
    // A redirect would reach a host nobody checked (host.ts): a repository is named by its final URL.
    ["http.followRedirects", "false"],
    ...(opts.pin ? [["http.curloptResolve", opts.pin] as [string, string]] : []),
  ];
  env.GIT_CONFIG_COUNT = String(config.length);
  config.forEach(([key, value], i) => {
    env[`GIT_CONFIG_KEY_${i}`] = key;
    env[`GIT_CONFIG_VALUE_${i}`] = value;
  });
  return env;
}

/** Runs git; resolves with its stdout, rejects with a GitFailure (stderr masked) or a CanceledError. */
export function runGit(args: string[], opts: GitOptions = {}): Promise<string> {
  const { signal, auth } = opts;
  if (signal?.aborted) return Promise.reject(new CanceledError());
  if (auth && /[\r\n\0]/.test(auth.token)) return Promise.reject(new SourceError("repo_auth", "the repository token holds a line break or NUL"));
  let env: Record<string, string>;
  try {
    env = gitEnv(opts);
  } catch (err) {
    return Promise.reject(err);
  }
  const masker = createMasker([auth?.token]);
  return new Promise((resolve, reject) => {
    // Its own process group, so a cancel also ends git-remote-https and the helpers it started.
    const child = spawn(opts.git ?? "git", args, {
      cwd: opts.cwd,
      env,
      stdio: ["ignore", "pipe", "pipe", auth ? "pipe" : "ignore"],
      detached: true,
    });
    const out: Buffer[] = [];
    let stderr = "";
    child.stdout?.on("data", (c: Buffer) => out.push(c));
    child.stderr?.on("data", (c: Buffer) => {
      const text = masker.mask(c.toString("utf8"));
      stderr = (stderr + text).slice(-STDERR_KEEP);
      opts.onStderr?.(text);
    });
    const tokenPipe = child.stdio[3];
    if (auth && tokenPipe && "end" in tokenPipe) {
      tokenPipe.on("error", () => {}); // git may exit without ever asking
      tokenPipe.end(auth.token);
    }
    let canceled = false;
    const onAbort = () => {
      canceled = true;
      try {
        if (child.pid) process.kill(-child.pid, "SIGTERM");
      } catch {
        // already gone
      }
    };
    signal?.addEventListener("abort", onAbort, { once: true });
    child.on("error", (err) => {
      signal?.removeEventListener("abort", onAbort);
      reject(err);
    });
    child.on("close", (code) => {
      signal?.removeEventListener("abort", onAbort);
      if (canceled) reject(new CanceledError());
      else if (code === 0) resolve(Buffer.concat(out).toString("utf8"));
      else reject(new GitFailure(args, code, stderr));
    });
  });
}
