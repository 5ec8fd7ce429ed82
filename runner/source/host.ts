// Which hosts a runner fetches a repository from — the zipUrl policy (runner/salesforce/zip-fetch.ts)
// applied to git, so a task cannot point a runner at its own network (SSRF: cloud metadata, 10.x,
// loopback services). Before git runs, the host is resolved and refused unless every address is
// public, or loopback with the local-development setting, or the host is one the runners allow
// (SFP_SOURCE_ALLOWED_HOSTS: self-hosted git servers on private networks). git is then pinned to the
// addresses checked (http.curloptResolve), so a second DNS answer cannot rebind the connection; git.ts
// also turns redirects off, so no other host is reached unchecked.
import { lookup } from "node:dns/promises";
import { isIP } from "node:net";
import { addressKind } from "../salesforce/addresses.ts";
import { SourceError } from "./errors.ts";
import type { RepoUrl } from "./url.ts";

export interface RepoHostPolicy {
  /** Loopback addresses allowed (local development, tests); plain http needs it too (url.ts). */
  allowLocalHttp: boolean;
  /** Host names (or `*.domain`) fetched from whatever they resolve to. */
  allowedHosts: string[];
}

export interface ResolvedAddress {
  address: string;
  family: number;
}

export type Resolver = (hostname: string) => Promise<ResolvedAddress[]>;

const systemResolve: Resolver = (hostname) => lookup(hostname, { all: true, verbatim: true });

/**
 * Checks the repository's host; answers git's `http.curloptResolve` entry that pins the connection to
 * the addresses checked (`host:port:addr[,addr]`), or undefined for an IP-literal host (nothing to resolve).
 */
export async function checkRepoHost(repo: RepoUrl, policy: RepoHostPolicy, resolve: Resolver = systemResolve): Promise<string | undefined> {
  const host = repo.url.hostname.replace(/^\[(.*)\]$/, "$1");
  const literal = isIP(host) !== 0;
  let addresses: ResolvedAddress[];
  try {
    addresses = literal ? [{ address: host, family: isIP(host) }] : await resolve(host);
  } catch {
    throw new SourceError("repo_unreachable", `cannot resolve the repository's host ${host}: ${repo.where}`);
  }
  if (addresses.length === 0) throw new SourceError("repo_unreachable", `the repository's host ${host} has no address: ${repo.where}`);
  const kinds = addresses.map((a) => addressKind(a.address));
  const allowedHost = policy.allowedHosts.some((allowed) => hostMatches(host, allowed));
  // Every address must pass, not just one: the connection must not depend on which one curl picks.
  const ok = kinds.every((k) => k === "public" || (k === "loopback" && policy.allowLocalHttp)) || allowedHost;
  if (!ok) {
    throw new SourceError(
      "invalid_source",
      `the repository's host ${host} ${literal ? "is" : "resolves to"} a private, loopback or link-local address; runners fetch only from public addresses unless their SFP_SOURCE_ALLOWED_HOSTS names the host: ${repo.where}`,
    );
  }
  if (repo.insecure && !kinds.every((k) => k === "loopback")) {
    throw new SourceError("invalid_source", `plain http is allowed only to a loopback address: ${repo.where}`);
  }
  if (literal) return undefined;
  const port = repo.url.port || (repo.url.protocol === "https:" ? "443" : "80");
  return `${host}:${port}:${addresses.map((a) => (a.family === 6 ? `[${a.address}]` : a.address)).join(",")}`;
}

function hostMatches(host: string, allowed: string): boolean {
  const h = host.toLowerCase();
  const a = allowed.toLowerCase();
  return a.startsWith("*.") ? h.endsWith(a.slice(1)) && h.length > a.length - 1 : h === a;
}
