// The checkout cache of a runner host: one bare mirror per repository URL, fetched shallow (depth 1,
// only the commits a job names) and incrementally — each fetched commit stays under
// refs/sfp/commits/<sha>, so the next fetch tells the server what it already has and receives only
// new objects. Jobs serialize on a per-mirror lock; they read the mirror's objects through git
// alternates from their own directories, so the mirror never has a work tree or an index to share.
import { createHash } from "node:crypto";
import { mkdir, rm, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { classifyFetchFailure, SourceError } from "./errors.ts";
import { type GitAuth, GitFailure, runGit } from "./git.ts";
import { withFileLock } from "./lock.ts";
import type { RepoUrl } from "./url.ts";

export const SHA = /^[0-9a-f]{40}$/;

export interface FetchRequest {
  cacheDir: string;
  repo: RepoUrl;
  /** Commits (40-hex) or branch/tag names, fetched in one go. */
  refs: string[];
  auth?: GitAuth;
  /** git's connection pin from checkRepoHost (host.ts). */
  pin?: string;
  signal: AbortSignal;
  git?: string;
  onStderr?: (text: string) => void;
}

export interface Fetched {
  mirror: string;
  /** The commit each of `refs` resolved to, in order. */
  shas: string[];
  /** Objects this fetch added to the mirror (0 when it had them all). */
  fetchedObjects: number;
}

export function mirrorPath(cacheDir: string, repo: RepoUrl): string {
  const key = createHash("sha256").update(repo.url.href).digest("hex").slice(0, 16);
  const name = (repo.url.pathname.split("/").filter(Boolean).at(-1) ?? "repo").replace(/\.git$/, "").replace(/[^A-Za-z0-9._-]/g, "_");
  return join(cacheDir, `${name}-${key}.git`);
}

/** Fetches `refs` into the repository's mirror (creating it on first use) and resolves them to commits. */
export async function fetchIntoMirror(req: FetchRequest): Promise<Fetched> {
  const mirror = mirrorPath(req.cacheDir, req.repo);
  await mkdir(req.cacheDir, { recursive: true, mode: 0o700 });
  return withFileLock(`${mirror}.lock`, req.signal, async () => {
    const local = { git: req.git, signal: req.signal };
    await ensureMirror(mirror, req.repo, local);
    const before = await countObjects(mirror, local);
    const refspecs = req.refs.map((ref, i) => (SHA.test(ref) ? `${ref}:refs/sfp/commits/${ref}` : `+${ref}:refs/sfp/fetch/${i}`));
    try {
      // Always asks the server, even for a commit the mirror holds: the job's own token must be good.
      await runGit(
        [
          "--git-dir",
          mirror,
          "fetch",
          "--depth=1",
          "--no-tags",
          "--progress",
          "--no-write-fetch-head",
          "--no-auto-maintenance",
          "--end-of-options",
          req.repo.url.href,
          ...refspecs,
        ],
        { ...local, auth: req.auth, allowHttp: req.repo.insecure, pin: req.pin, onStderr: req.onStderr },
      );
    } catch (err) {
      if (err instanceof GitFailure) throw classifyFetchFailure(err.stderr, req.repo.where, req.refs);
      throw err;
    }
    const shas: string[] = [];
    for (const [i, ref] of req.refs.entries()) {
      const fetchedRef = SHA.test(ref) ? ref : `refs/sfp/fetch/${i}`;
      let sha: string;
      try {
        sha = (await runGit(["--git-dir", mirror, "rev-parse", "--verify", "--end-of-options", `${fetchedRef}^{commit}`], local)).trim();
      } catch (err) {
        if (err instanceof GitFailure) throw new SourceError("ref_not_found", `${req.repo.where}: ${ref} is not a commit`);
        throw err;
      }
      if (!SHA.test(ref)) {
        await runGit(["--git-dir", mirror, "update-ref", `refs/sfp/commits/${sha}`, sha], local);
        await runGit(["--git-dir", mirror, "update-ref", "-d", fetchedRef], local);
      }
      shas.push(sha);
    }
    const after = await countObjects(mirror, local);
    return { mirror, shas, fetchedObjects: Math.max(0, after - before) };
  });
}

/** A mirror is usable once `sfp.ready` is set: a half-made one (a crash during init) is made again. */
async function ensureMirror(mirror: string, repo: RepoUrl, local: { git?: string; signal: AbortSignal }): Promise<void> {
  const ready = await runGit(["--git-dir", mirror, "config", "--get", "sfp.ready"], local).then(
    (v) => v.trim() === "true",
    () => false,
  );
  if (ready) return;
  await rm(mirror, { recursive: true, force: true });
  await runGit(["init", "--bare", "--quiet", "--template=", mirror], local);
  for (const [key, value] of [
    ["gc.auto", "0"], // never repack or prune under a job reading these objects; see README
    ["maintenance.auto", "false"],
    ["core.logAllRefUpdates", "false"],
  ]) {
    await runGit(["--git-dir", mirror, "config", key, value], local);
  }
  await writeFile(join(mirror, "sfp-repository-url"), `${repo.where}\n`);
  await runGit(["--git-dir", mirror, "config", "sfp.ready", "true"], local);
}

async function countObjects(mirror: string, local: { git?: string; signal: AbortSignal }): Promise<number> {
  const out = await runGit(["--git-dir", mirror, "count-objects", "-v"], local);
  const field = (name: string) => Number(new RegExp(`^${name}: (\\d+)$`, "m").exec(out)?.[1] ?? "0");
  return field("count") + field("in-pack");
}
