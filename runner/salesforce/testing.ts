// For the operation tests: a real jsforce connection to the org double, and an operation context that
// records the progress and log lines an operation reports. Not a test itself.
import type { Progress } from "../../protocol/task.ts";
import type { SalesforceOrgDouble } from "../../test/doubles/salesforce-org.ts";
import { parseSfdxAuthUrl } from "../credentials/auth-url.ts";
import { connectOrg, type OrgSession } from "./connect.ts";
import type { OperationContext } from "./context.ts";

export interface OperationHarness {
  ctx: OperationContext;
  progress: Progress[];
  logs: string[];
  /** Every access token the connection was given (the first, and any refresh). */
  tokens: string[];
  session: OrgSession;
  cancel: AbortController;
}

export async function operationHarness(org: SalesforceOrgDouble, onRefresh?: () => void): Promise<OperationHarness> {
  const tokens: string[] = [];
  const session = await connectOrg(parseSfdxAuthUrl(org.authUrl), { onAccessToken: (t) => tokens.push(t), onRefresh });
  const progress: Progress[] = [];
  const logs: string[] = [];
  const cancel = new AbortController();
  const ctx: OperationContext = {
    conn: session.conn,
    signal: cancel.signal,
    // The double answers at once: poll it often so the tests stay short.
    pollIntervalMs: 5,
    // The tests serve zips from loopback, as local development does.
    zipPolicy: { allowLoopbackHttp: true, allowedHosts: [] },
    progress: (p) => progress.push(p),
    log: (...l) => logs.push(...l),
  };
  return { ctx, progress, logs, tokens, session, cancel };
}
