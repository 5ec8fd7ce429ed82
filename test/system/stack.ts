// The stack a system test drives as a user would: the edge in workerd, a project with orgs on the
// Salesforce double (registered in a local credential store), a real `node runner/main.ts` manager
// registered for the default pool, and a logged-in CLI config. Each test file starts its own.
import { createHmac } from "node:crypto";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { EdgeClient } from "../../protocol/client.ts";
import { registerOrg } from "../../runner/credentials/index.ts";
import { startSalesforceOrg, type SalesforceOrgDouble } from "../doubles/salesforce-org.ts";
import { cli } from "./cli-process.ts";
import { createProject, startEdge, type Edge } from "./edge-process.ts";
import { killAllManagers, startManager, type ManagerProcess } from "./manager-process.ts";

/** The longest any one step may take on a loaded machine. */
export const STEP_MS = 90_000;

export interface Stack {
  root: string;
  org: SalesforceOrgDouble;
  edge: Edge;
  project: string;
  owner: string;
  api: EdgeClient;
  /** The local credential store the manager reads (register more in it before the tasks need them). */
  store: { provider: "local"; file: string; key: string };
  /** `--config-dir` of a CLI logged in as the owner. */
  configDir: string;
  /** The manager startStack started. */
  manager: ManagerProcess;
  stop(): Promise<void>;
}

export interface StackOptions {
  name: string;
  /** Org aliases, each with the body of its PUT (all on the one Salesforce double). */
  orgs: Record<string, Record<string, unknown>>;
  /** Extra manager settings (SFP_RUNNER_SLOTS, SFP_SOURCE_*…). */
  managerEnv?: Record<string, string>;
  /** Worker vars over wrangler.toml's [vars] (e.g. a short LEASE_SECONDS for quick heartbeats). */
  edgeVars?: Record<string, string>;
  /** Runs after the orgs are registered and before the manager starts (e.g. repository tokens). */
  prepare?: (stack: Omit<Stack, "configDir" | "manager" | "stop">) => Promise<void>;
}

export async function startStack(opts: StackOptions): Promise<Stack> {
  const root = mkdtempSync(join(tmpdir(), `sfp-${opts.name}-`));
  const [org, edge] = await Promise.all([startSalesforceOrg(), startEdge(opts.edgeVars ? { vars: opts.edgeVars } : {})]);
  org.controls.deployPolls = 1;
  const { project, ownerToken: owner } = await createProject(edge, opts.name);
  const api = new EdgeClient(edge.url, owner);
  const store = { provider: "local" as const, file: join(root, "store", "credentials.json"), key: `${opts.name}-store-key-${crypto.randomUUID()}` };
  for (const [alias, body] of Object.entries(opts.orgs)) {
    await api.request("PUT", `/v1/projects/${project}/orgs/${alias}`, { body: { orgId: org.orgId, ...body } });
    await registerOrg({ alias, sfdxAuthUrl: org.authUrl, project, config: store });
  }
  await opts.prepare?.({ root, org, edge, project, owner, api, store });
  const { body: reg } = await api.request<{ token: string }>("POST", `/v1/projects/${project}/registration-tokens`, { body: { pool: "default" } });
  const manager = startManager({
    edgeUrl: edge.url,
    registrationToken: reg.token,
    name: opts.name,
    dir: mkdtempSync(join(root, "manager-")),
    credentialsFile: store.file,
    credentialsKey: store.key,
    ...(opts.managerEnv ? { env: opts.managerEnv } : {}),
  });
  await manager.waitForLog("registered", STEP_MS);
  const configDir = mkdtempSync(join(root, "cli-"));
  const login = await cli(["--config-dir", configDir, "login", "--url", edge.url, "--project", project, "--token", owner]);
  if (login.code !== 0) throw new Error(`login failed: ${login.stderr}`);
  return {
    root,
    org,
    edge,
    project,
    owner,
    api,
    store,
    configDir,
    manager,
    async stop() {
      await killAllManagers();
      await Promise.all([edge.stop(), org.close()]);
      rmSync(root, { recursive: true, force: true });
    },
  };
}

/** POSTs a delivery to a webhook source's URL signed as GitHub signs it (a fresh delivery id each time). */
export function deliverGithub(hookUrl: string, secret: string, event: string, body: string): Promise<Response> {
  return fetch(hookUrl, {
    method: "POST",
    headers: {
      "content-type": "application/json",
      "x-github-event": event,
      "x-github-delivery": crypto.randomUUID(),
      "x-hub-signature-256": `sha256=${createHmac("sha256", secret).update(body).digest("hex")}`,
    },
    body,
  });
}
