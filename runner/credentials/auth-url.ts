// sfdx auth URLs, as `sf org display --verbose` prints them:
//   force://<clientId>:<clientSecret>:<refreshToken>@<instance host>
//   force://<clientId>::<refreshToken>@<instance host>        (no client secret, e.g. PlatformCLI)
//   force://<refreshToken>@<instance host>                     (older form: the PlatformCLI client)
// The instance may also carry its scheme (https://…). Plain http is accepted only for loopback hosts,
// where the test doubles and the local simulator live.

/** Salesforce's own CLI connected app, used when the URL names no client. */
export const DEFAULT_CLIENT_ID = "PlatformCLI";

/** The credentials of one org, as the stores keep them. */
export interface OrgAuth {
  clientId: string;
  /** Empty when the connected app has no secret (the sf CLI's default app). */
  clientSecret: string;
  refreshToken: string;
  /** Where the refresh-token grant goes and the org's API lives, e.g. https://acme.my.salesforce.com */
  instanceUrl: string;
}

export class InvalidAuthUrlError extends Error {
  constructor(reason: string) {
    // Never quotes the URL: it is a secret.
    super(`invalid sfdx auth URL: ${reason}`);
    this.name = "InvalidAuthUrlError";
  }
}

const TOKEN_PART = /^[A-Za-z0-9._~!$%*+\-/]+={0,2}$/;
const CLIENT_ID = /^[A-Za-z0-9._-]+={0,2}$/;
const LOOPBACK = new Set(["localhost", "127.0.0.1", "[::1]"]);

function parseInstance(raw: string): string {
  const withScheme = /^[a-z]+:\/\//i.test(raw) ? raw : `https://${raw}`;
  let url: URL;
  try {
    url = new URL(withScheme);
  } catch {
    throw new InvalidAuthUrlError("the instance is not a host name");
  }
  if (url.username || url.password || url.search || url.hash) throw new InvalidAuthUrlError("the instance has extra parts");
  if (url.protocol === "http:" && !LOOPBACK.has(url.hostname)) throw new InvalidAuthUrlError("the instance must use https");
  if (url.protocol !== "https:" && url.protocol !== "http:") throw new InvalidAuthUrlError("the instance must use https");
  return url.origin;
}

export function parseSfdxAuthUrl(input: string): OrgAuth {
  const text = input.trim();
  if (!text.startsWith("force://")) throw new InvalidAuthUrlError("it must start with force://");
  const rest = text.slice("force://".length);
  // The instance comes after the last '@' (tokens never contain one).
  const at = rest.lastIndexOf("@");
  if (at <= 0) throw new InvalidAuthUrlError("the instance is missing (…@host)");
  const creds = rest.slice(0, at);
  const instanceUrl = parseInstance(rest.slice(at + 1).replace(/\/+$/, ""));

  const parts = creds.split(":");
  let clientId: string, clientSecret: string, refreshToken: string;
  if (parts.length === 1) {
    [clientId, clientSecret, refreshToken] = [DEFAULT_CLIENT_ID, "", parts[0]];
  } else if (parts.length === 3) {
    [clientId, clientSecret, refreshToken] = parts;
  } else {
    throw new InvalidAuthUrlError("expected clientId:clientSecret:refreshToken before the @");
  }
  if (!CLIENT_ID.test(clientId)) throw new InvalidAuthUrlError("the client id is malformed");
  if (clientSecret !== "" && !TOKEN_PART.test(clientSecret)) throw new InvalidAuthUrlError("the client secret is malformed");
  if (!refreshToken || refreshToken === "undefined" || !TOKEN_PART.test(refreshToken)) {
    throw new InvalidAuthUrlError("the refresh token is missing or malformed");
  }
  return { clientId, clientSecret, refreshToken, instanceUrl };
}

/** The inverse of parseSfdxAuthUrl (what the stores persist). */
export function formatSfdxAuthUrl(auth: OrgAuth): string {
  const host = auth.instanceUrl.startsWith("https://") ? auth.instanceUrl.slice("https://".length) : auth.instanceUrl;
  return `force://${auth.clientId}:${auth.clientSecret}:${auth.refreshToken}@${host}`;
}

/** The secret strings inside an OrgAuth, for the masker. */
export function orgAuthSecrets(auth: OrgAuth): string[] {
  return [auth.refreshToken, auth.clientSecret, formatSfdxAuthUrl(auth)].filter((s) => s.length > 0);
}
