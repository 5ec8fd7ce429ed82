// Which repository URLs a runner fetches: https (to a host host.ts then checks); plain http only to a
// loopback host and only when the runner's local-development setting says so (tests and `npm start`).
import { SourceError } from "./errors.ts";

const LOOPBACK = /^(127(\.\d{1,3}){3}|\[::1\]|localhost)$/i;

export interface RepoUrl {
  url: URL;
  /** For messages: scheme, host and path, nothing else. */
  where: string;
  insecure: boolean;
}

export function checkRepoUrl(raw: string, allowLocalHttp: boolean): RepoUrl {
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    throw new SourceError("invalid_source", "source.repo is not a URL");
  }
  const where = `${url.protocol}//${url.host}${url.pathname}`;
  if (url.username || url.password) throw new SourceError("invalid_source", "source.repo must not hold credentials: register a repository token instead");
  if (url.search || url.hash) throw new SourceError("invalid_source", `source.repo must have no query or fragment: ${where}`);
  if (url.protocol === "https:") return { url, where, insecure: false };
  if (url.protocol === "http:" && allowLocalHttp && LOOPBACK.test(url.hostname)) return { url, where, insecure: true };
  throw new SourceError(
    "invalid_source",
    url.protocol === "http:"
      ? `plain http is allowed only to a loopback host with the runner's local-development setting: ${where}`
      : `source.repo must be an https URL: ${where}`,
  );
}
