// Starts the real edge (the Worker and its Durable Objects in workerd, from wrangler.toml, static
// assets included) on loopback for system tests, through wrangler's test harness. Offline: metrics
// and the `Request.cf` download are switched off, and nothing else reaches Cloudflare.
import { resolve } from "node:path";
import { createTestHarness, type TestHarness } from "wrangler";

export const REPO_ROOT = resolve(import.meta.dirname, "..", "..");

export interface EdgeOptions {
  /** Worker vars over wrangler.toml's [vars], e.g. { LEASE_SECONDS: "5" }. */
  vars?: Record<string, string>;
  adminToken?: string;
  signingKey?: string;
  originToken?: string;
}

export interface Edge {
  /** Base URL without a trailing slash, e.g. http://127.0.0.1:41929 */
  url: string;
  adminToken: string;
  signingKey: string;
  originToken: string;
  /** The harness itself, for what a test may need beyond HTTP (e.g. evicting an actor). */
  harness: TestHarness;
  stop(): Promise<void>;
}

export async function startEdge(opts: EdgeOptions = {}): Promise<Edge> {
  process.env.WRANGLER_SEND_METRICS = "false";
  process.env.CLOUDFLARE_CF_FETCH_ENABLED = "false";
  const adminToken = opts.adminToken ?? `admin-${crypto.randomUUID()}`;
  const signingKey = opts.signingKey ?? `signing-${crypto.randomUUID()}-${crypto.randomUUID()}`;
  const originToken = opts.originToken ?? `origin-${crypto.randomUUID()}`;
  const harness = createTestHarness({
    root: REPO_ROOT,
    workers: [
      {
        configPath: "./wrangler.toml",
        vars: opts.vars ?? {},
        secrets: { ADMIN_TOKEN: adminToken, TOKEN_SIGNING_KEY: signingKey, ORIGIN_TOKEN: originToken },
      },
    ],
  });
  const { url } = await harness.listen();
  return {
    url: url.origin,
    adminToken,
    signingKey,
    originToken,
    harness,
    stop: () => harness.close(),
  };
}

/** Creates a project with the admin token; answers its id and owner token. */
export async function createProject(edge: Edge, name = "system-test"): Promise<{ project: string; ownerToken: string }> {
  const res = await fetch(`${edge.url}/v1/projects`, {
    method: "POST",
    headers: { authorization: `Bearer ${edge.adminToken}`, "content-type": "application/json" },
    body: JSON.stringify({ name }),
  });
  if (res.status !== 201) throw new Error(`project create: ${res.status} ${await res.text()}`);
  const body = (await res.json()) as { project: { id: string }; ownerToken: string };
  return { project: body.project.id, ownerToken: body.ownerToken };
}
