// Connects to an org with jsforce 3 from its stored auth: one refresh-token grant up front, then a
// session that may be refreshed once more if Salesforce rejects it mid-job (401 / INVALID_SESSION_ID).
// A second rejection fails the job instead of looping: jsforce would otherwise refresh forever.
import { Connection, OAuth2 } from "jsforce";
import type { OrgAuth } from "../credentials/auth-url.ts";

export const DEFAULT_API_VERSION = "62.0";
/** Refreshes allowed after the first token: a 401 mid-job refreshes once; a second one fails the job. */
export const MAX_SESSION_REFRESHES = 1;

export class SessionError extends Error {
  readonly code: "auth_failed" | "session_expired";
  constructor(code: "auth_failed" | "session_expired", message: string) {
    super(message);
    this.name = "SessionError";
    this.code = code;
  }
}

export interface OrgSession {
  conn: Connection;
  /** How many mid-job refreshes happened. */
  refreshes(): number;
  /** Drops every token reference held by jsforce. */
  clear(): void;
}

export async function connectOrg(auth: OrgAuth, opts: { apiVersion?: string; onAccessToken(token: string): void; onRefresh?(): void }): Promise<OrgSession> {
  let refreshToken: string | null = auth.refreshToken;
  const oauth2 = new OAuth2({ loginUrl: auth.instanceUrl, clientId: auth.clientId, clientSecret: auth.clientSecret || undefined });

  let first: Awaited<ReturnType<typeof oauth2.refreshToken>>;
  try {
    first = await oauth2.refreshToken(refreshToken);
  } catch (err) {
    const name = err instanceof Error ? err.name : "";
    const message = err instanceof Error ? err.message : String(err);
    throw new SessionError("auth_failed", `the org refused the stored credentials (${name || "error"}: ${message}); register the org again`);
  }
  opts.onAccessToken(first.access_token);

  let refreshes = 0;
  const conn = new Connection({
    oauth2,
    instanceUrl: first.instance_url,
    accessToken: first.access_token,
    version: opts.apiVersion ?? DEFAULT_API_VERSION,
    refreshFn: (_conn, callback) => {
      if (refreshes >= MAX_SESSION_REFRESHES || !refreshToken) {
        callback(new SessionError("session_expired", "Salesforce rejected the session again after a refresh"));
        return;
      }
      refreshes += 1;
      oauth2.refreshToken(refreshToken).then(
        (res) => {
          opts.onAccessToken(res.access_token);
          opts.onRefresh?.();
          callback(null, res.access_token, res);
        },
        (err: unknown) => callback(err instanceof Error ? err : new Error(String(err))),
      );
    },
  });
  return {
    conn,
    refreshes: () => refreshes,
    clear() {
      refreshToken = null;
      conn.accessToken = null;
      conn.refreshToken = null;
      oauth2.clientSecret = undefined;
    },
  };
}
