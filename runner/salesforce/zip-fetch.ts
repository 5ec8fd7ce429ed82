// Downloading a deploy zip from a task's `zipUrl` without becoming a way into the runner's network
// (SSRF): https only; every hop's host resolved once and refused unless every address is public
// (addresses.ts); the connection made to the address that was checked (no second DNS answer can
// rebind it); redirects followed by hand, each checked the same way, at most MAX_REDIRECTS; an
// optional host allowlist; and errors that do not tell which internal hosts or ports answer.
import { lookup as dnsLookup } from "node:dns/promises";
import { request as httpRequest, type IncomingMessage } from "node:http";
import { request as httpsRequest } from "node:https";
import { isIP, type LookupFunction } from "node:net";
import { addressKind } from "./addresses.ts";
import { OperationError } from "./context.ts";

export interface ZipFetchPolicy {
  /**
   * Local development only (SFP_ALLOW_LOOPBACK_HTTP): loopback addresses (127.0.0.0/8, ::1) may be
   * fetched from, and over plain http. Private and metadata addresses stay refused.
   */
  allowLoopbackHttp: boolean;
  /** When not empty, every hop's host must be one of these: `ci.example.com`, or `*.example.com`. */
  allowedHosts: string[];
}

export const STRICT_ZIP_POLICY: ZipFetchPolicy = { allowLoopbackHttp: false, allowedHosts: [] };
export const MAX_REDIRECTS = 5;

export interface ResolvedAddress {
  address: string;
  family: number;
}

export interface ZipFetchOptions {
  policy: ZipFetchPolicy;
  signal: AbortSignal;
  maxBytes: number;
  /** Resolves a host name (tests give their own); default the system resolver. */
  resolve?: (hostname: string) => Promise<ResolvedAddress[]>;
}

const systemResolve = (hostname: string) => dnsLookup(hostname, { all: true, verbatim: true });

/** The zip's bytes, or an OperationError `zip_unavailable` that names only the URL's origin and path. */
export async function fetchZip(zipUrl: string, opts: ZipFetchOptions): Promise<Buffer> {
  const first = new URL(zipUrl);
  const where = `${first.origin}${first.pathname}`; // never the query string: it may hold a signature
  const unreachable = () => new OperationError("zip_unavailable", `cannot download the zip from ${where}: not reachable as a public https server`);
  let url = first;
  for (let hop = 0; ; hop++) {
    const target = await checkHop(url, opts, where, unreachable);
    let res: IncomingMessage;
    try {
      res = await get(url, target, opts.signal);
    } catch {
      if (opts.signal.aborted) throw new OperationError("zip_unavailable", `downloading the zip from ${where} was canceled or timed out`);
      throw unreachable();
    }
    const status = res.statusCode ?? 0;
    if (status >= 300 && status < 400 && res.headers.location) {
      res.destroy();
      if (hop >= MAX_REDIRECTS) throw new OperationError("zip_unavailable", `the zip at ${where} redirects more than ${MAX_REDIRECTS} times`);
      try {
        url = new URL(res.headers.location, url);
      } catch {
        throw new OperationError("zip_unavailable", `the zip at ${where} redirects to an invalid URL`);
      }
      continue;
    }
    if (status < 200 || status >= 300) {
      res.destroy();
      throw new OperationError("zip_unavailable", `fetching the zip from ${where} answered HTTP ${status}`);
    }
    return readBody(
      res,
      opts.maxBytes,
      () => new OperationError("zip_unavailable", `the zip at ${where} is larger than ${opts.maxBytes} bytes`),
      () => new OperationError("zip_unavailable", `the download of the zip from ${where} was interrupted`),
    );
  }
}

/** Checks one hop's URL and resolves its host; answers the one address to connect to. */
async function checkHop(url: URL, opts: ZipFetchOptions, where: string, unreachable: () => OperationError): Promise<ResolvedAddress> {
  const { policy } = opts;
  if (url.username || url.password) throw new OperationError("zip_unavailable", `the zip URL ${where} (or a redirect) carries credentials; they are not sent`);
  const loopbackHttp = url.protocol === "http:" && policy.allowLoopbackHttp;
  if (url.protocol !== "https:" && !loopbackHttp) {
    throw new OperationError("zip_unavailable", `the zip URL ${where} (or a redirect) is not https; only https is fetched`);
  }
  const host = url.hostname.replace(/^\[(.*)\]$/, "$1");
  if (policy.allowedHosts.length > 0 && !policy.allowedHosts.some((allowed) => hostMatches(host, allowed))) {
    throw new OperationError("zip_unavailable", `the zip URL ${where} (or a redirect) names a host outside the runner's allowed hosts`);
  }
  let addresses: ResolvedAddress[];
  try {
    addresses = isIP(host) ? [{ address: host, family: isIP(host) }] : await (opts.resolve ?? systemResolve)(host);
  } catch {
    throw unreachable();
  }
  const kinds = addresses.map((a) => addressKind(a.address));
  // Every address must pass, not just one: the connection must not depend on which one is used.
  const allowed = addresses.length > 0 && kinds.every((k) => k === "public" || (k === "loopback" && policy.allowLoopbackHttp));
  if (!allowed) throw unreachable();
  if (url.protocol === "http:" && !kinds.every((k) => k === "loopback")) {
    throw new OperationError("zip_unavailable", `the zip URL ${where} (or a redirect) is not https; plain http is fetched from loopback only`);
  }
  return addresses[0];
}

function hostMatches(host: string, allowed: string): boolean {
  const h = host.toLowerCase();
  const a = allowed.toLowerCase();
  return a.startsWith("*.") ? h.endsWith(a.slice(1)) && h.length > a.length - 1 : h === a;
}

/** One GET, connected to `target` whatever a resolver would say now (TLS still checks the host name). */
function get(url: URL, target: ResolvedAddress, signal: AbortSignal): Promise<IncomingMessage> {
  const pinned: LookupFunction = (_hostname, options, callback) => {
    if (options.all) callback(null, [target]);
    else callback(null, target.address, target.family);
  };
  const request = url.protocol === "https:" ? httpsRequest : httpRequest;
  return new Promise((resolve, reject) => {
    const req = request(
      {
        protocol: url.protocol,
        hostname: url.hostname.replace(/^\[(.*)\]$/, "$1"),
        port: url.port || undefined,
        path: `${url.pathname}${url.search}`,
        method: "GET",
        headers: { accept: "application/zip, application/octet-stream, */*", "user-agent": "sfp-edge-runner" },
        lookup: pinned,
        agent: false,
        signal,
      },
      resolve,
    );
    req.on("error", reject);
    req.end();
  });
}

async function readBody(res: IncomingMessage, maxBytes: number, tooLarge: () => OperationError, interrupted: () => OperationError): Promise<Buffer> {
  if (Number(res.headers["content-length"] ?? 0) > maxBytes) {
    res.destroy();
    throw tooLarge();
  }
  const chunks: Buffer[] = [];
  let size = 0;
  try {
    for await (const chunk of res) {
      const buf = Buffer.isBuffer(chunk) ? chunk : Buffer.from(String(chunk));
      size += buf.length;
      if (size > maxBytes) throw tooLarge();
      chunks.push(buf);
    }
  } catch (err) {
    res.destroy();
    throw err instanceof OperationError ? err : interrupted();
  }
  return Buffer.concat(chunks);
}
