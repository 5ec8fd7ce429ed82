// A job's own checkout of one commit: the commit (and the delta's base) fetched through the host's
// mirror, then a fresh repository in the job's directory that borrows the mirror's objects (git
// alternates) and checks the commit out. The directory is the job's alone and goes at cleanup().
import { copyFile, mkdir, mkdtemp, rm, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { CanceledError } from "../salesforce/context.ts";
import { fetchIntoMirror } from "./cache.ts";
import { runGit } from "./git.ts";
import { checkRepoHost, type Resolver } from "./host.ts";
import { checkRepoUrl } from "./url.ts";

/** GitHub's convention; GitLab takes any user name with a token, Bitbucket wants `x-token-auth`. */
export const DEFAULT_REPO_USERNAME = "x-access-token";

export interface CheckoutOptions {
  repo: string;
  /** A 40-hex commit, or a branch or tag name resolved once, here. */
  ref: string;
  /** A delta's base commit: fetched too, so both can be compared. */
  from?: string;
  token?: string;
  username?: string;
  cacheDir: string;
  /** The checkout is made in a new directory under this one. */
  workDir: string;
  signal: AbortSignal;
  allowLocalHttp?: boolean;
  /** Hosts fetched from even when they resolve to private addresses (SFP_SOURCE_ALLOWED_HOSTS). */
  allowedHosts?: string[];
  /** Resolves the repository's host (tests give their own); default the system resolver. */
  resolve?: Resolver;
  git?: string;
  onStderr?: (text: string) => void;
}

export interface Checkout {
  /** The job's directory: the checkout is in `repo/`, scratch space beside it. */
  root: string;
  /** The checked-out commit's files (and its `.git`). */
  dir: string;
  sha: string;
  fromSha?: string;
  fetchedObjects: number;
  /** Where the repository is, for messages: scheme, host, path. */
  where: string;
  git?: string;
  cleanup(): Promise<void>;
}

export async function checkout(opts: CheckoutOptions): Promise<Checkout> {
  const repo = checkRepoUrl(opts.repo, opts.allowLocalHttp ?? false);
  const pin = await checkRepoHost(repo, { allowLocalHttp: opts.allowLocalHttp ?? false, allowedHosts: opts.allowedHosts ?? [] }, opts.resolve);
  const ref = /^[0-9A-Fa-f]{40}$/.test(opts.ref) ? opts.ref.toLowerCase() : opts.ref;
  const refs = opts.from === undefined ? [ref] : [ref, opts.from.toLowerCase()];
  const auth = opts.token === undefined ? undefined : { host: repo.url.host, username: opts.username ?? DEFAULT_REPO_USERNAME, token: opts.token };
  const fetched = await fetchIntoMirror({ cacheDir: opts.cacheDir, repo, refs, auth, pin, signal: opts.signal, git: opts.git, onStderr: opts.onStderr });
  const [sha, fromSha] = fetched.shas;

  await mkdir(opts.workDir, { recursive: true });
  const root = await mkdtemp(join(opts.workDir, "source-"));
  const dir = join(root, "repo");
  const cleanup = () => rm(root, { recursive: true, force: true });
  const local = { git: opts.git, signal: opts.signal, cwd: dir };
  try {
    await mkdir(dir);
    await runGit(["init", "--quiet", "--template=", "."], local);
    // The repository's files are not trusted: symlinks are checked out as plain files holding the
    // link's text, so nothing outside the checkout can be read into a deploy.
    await runGit(["config", "core.symlinks", "false"], local);
    await writeFile(join(dir, ".git", "objects", "info", "alternates"), `${join(fetched.mirror, "objects")}\n`);
    await copyFile(join(fetched.mirror, "shallow"), join(dir, ".git", "shallow")).catch(() => {}); // none when the history is whole
    await runGit(["checkout", "--quiet", "--detach", sha], local);
  } catch (err) {
    await cleanup();
    throw err;
  }
  if (opts.signal.aborted) {
    await cleanup();
    throw new CanceledError();
  }
  return { root, dir, sha, fromSha, fetchedObjects: fetched.fetchedObjects, where: repo.where, git: opts.git, cleanup };
}
