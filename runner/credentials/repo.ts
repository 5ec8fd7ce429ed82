// Repository credentials (issue 12): the HTTPS token a runner uses to fetch an sfdx project, kept in
// the same store as org credentials and handed to a job's worker only for the repository its task
// names. A repository is named by (project, URL); the URL is normalized so that `…/crm`, `…/crm.git`
// and `…/crm/` are one repository (git serves them alike).
import { createHash } from "node:crypto";
import { DEFAULT_PROJECT } from "./store.ts";

export interface RepoRef {
  project?: string;
  url: string;
}

export interface RepoCredential {
  token: string;
  /** The HTTP user git sends with the token (default x-access-token, as GitHub wants; Bitbucket: x-token-auth). */
  username?: string;
}

const USERNAME = /^[A-Za-z0-9._@+-]{1,100}$/;
/** A token as hosts issue them: printable ASCII without spaces (a newline would end git's credential answer). */
const TOKEN = /^[\x21-\x7e]{1,4096}$/;

export class InvalidRepoError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "InvalidRepoError";
  }
}

/** The repository's identity: scheme, lower-case host (and port), path without a trailing `/` or `.git`. */
export function normalizeRepoUrl(raw: string): string {
  let url: URL;
  try {
    url = new URL(raw.trim());
  } catch {
    throw new InvalidRepoError("url: not a URL");
  }
  if (url.protocol !== "https:" && url.protocol !== "http:") throw new InvalidRepoError("url: an https URL");
  if (url.username || url.password || url.search || url.hash)
    throw new InvalidRepoError("url: no credentials, query or fragment (the token is given separately)");
  const path = url.pathname.replace(/\/+$/, "").replace(/\.git$/, "");
  if (!path || path === "/") throw new InvalidRepoError("url: the repository's path is missing");
  return `${url.protocol}//${url.host.toLowerCase()}${path}`;
}

/** Checks what `sfp-edge repo register` stores; the message names the field, never the token. */
export function validateRepoCredential(cred: RepoCredential): RepoCredential {
  if (!TOKEN.test(cred.token)) throw new InvalidRepoError("token: 1–4096 printable characters without spaces or line breaks");
  if (cred.username !== undefined && !USERNAME.test(cred.username)) throw new InvalidRepoError("username: letters, digits and . _ @ + - (at most 100)");
  return cred.username === undefined ? { token: cred.token } : { token: cred.token, username: cred.username };
}

export function repoProjectOf(ref: RepoRef): string {
  return ref.project ?? DEFAULT_PROJECT;
}

/** Where a repository's credential is kept, and what its ciphertext is bound to. */
export function repoKeyOf(ref: RepoRef): string {
  return `${repoProjectOf(ref)}/${normalizeRepoUrl(ref.url)}`;
}

/** A short stable name for a repository where names are restricted (Infisical secret names). */
export function repoDigest(ref: RepoRef): string {
  return createHash("sha256").update(normalizeRepoUrl(ref.url)).digest("hex").slice(0, 32);
}

/** The stored form: the URL travels with the token, so a lookup can check it got the repository it asked for. */
export function serializeRepoCredential(ref: RepoRef, cred: RepoCredential): string {
  return JSON.stringify({ url: normalizeRepoUrl(ref.url), ...validateRepoCredential(cred) });
}

export function parseRepoCredential(ref: RepoRef, text: string): RepoCredential | null {
  const parsed = JSON.parse(text) as { url?: unknown; token?: unknown; username?: unknown };
  if (parsed.url !== normalizeRepoUrl(ref.url) || typeof parsed.token !== "string") return null;
  return typeof parsed.username === "string" ? { token: parsed.token, username: parsed.username } : { token: parsed.token };
}
