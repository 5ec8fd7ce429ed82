// Test harness (not a test): an in-process manager pointed at the edge double, with the fake worker,
// short grace periods, a private state file, and its log lines captured for assertions.
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join, resolve } from "node:path";
import { storeBroker, type CredentialBroker } from "../credentials/broker.ts";
import type { CredentialsConfig } from "../credentials/config.ts";
import type { EdgeRunnerApiDouble } from "../../test/doubles/edge-runner-api.ts";
import { Agent } from "./agent.ts";
import { MANAGER_VERSION, type ManagerConfig } from "./config.ts";
import { createLogger } from "./log.ts";
import { Metrics } from "./metrics.ts";

export const FAKE_WORKER = resolve(import.meta.dirname, "..", "..", "test", "doubles", "fake-worker.ts");
/** The manager's store settings (its key must reach no worker); the file is absent, so it has no org. */
export const FAKE_CREDENTIALS: CredentialsConfig = { provider: "local", file: "/nonexistent/credentials.json", key: "local-store-key-0123456789" };

/**
 * A manager environment full of secrets and secret-looking variables, for the tests that check none of
 * them reaches a worker's environment or argv.
 */
export function secretLadenEnv(edgeUrl: string): NodeJS.ProcessEnv {
  return {
    ...process.env,
    SFP_EDGE_URL: edgeUrl,
    SFP_REGISTRATION_TOKEN: "rgt_secret_registration_token",
    SFP_ORIGIN_TOKEN: "origin-token-secret-value",
    SFP_LOCAL_CREDENTIALS_KEY: FAKE_CREDENTIALS.provider === "local" ? FAKE_CREDENTIALS.key : "",
    INFISICAL_CLIENT_SECRET: "infisical-client-secret-value",
    SUPABASE_SERVICE_KEY: "supabase-service-key-value",
    GITHUB_TOKEN: "ghp_not_for_workers",
    AWS_SECRET_ACCESS_KEY: "aws-secret-not-for-workers",
    LANG: "C.UTF-8",
  };
}

export interface TestManager {
  agent: Agent;
  metrics: Metrics;
  config: ManagerConfig;
  logs: string[];
  /** The agent's run(): resolves with the exit code. */
  exit: Promise<number>;
  /** Log records (parsed) whose msg is `msg`. */
  logged(msg: string): Record<string, unknown>[];
}

export function tempStateFile(): string {
  return join(mkdtempSync(join(tmpdir(), "sfp-runner-")), "state.json");
}

export function startTestManager(
  edge: EdgeRunnerApiDouble,
  overrides: Partial<ManagerConfig> & { env?: NodeJS.ProcessEnv; credentials?: CredentialBroker } = {},
): TestManager {
  const { env, credentials, ...configOverrides } = overrides;
  const config: ManagerConfig = {
    edgeUrl: edge.url,
    registrationToken: configOverrides.stateFile ? undefined : edge.addRegistrationToken(),
    name: "test-runner",
    labels: [],
    slots: 1,
    ephemeral: false,
    stateFile: tempStateFile(),
    listen: { host: "127.0.0.1", port: 0 },
    workerEntry: FAKE_WORKER,
    cancelGraceMs: 300,
    killGraceMs: 300,
    workerEnvPassthrough: [],
    logLevel: "debug",
    version: MANAGER_VERSION,
    source: { cacheDir: join(dirname(tempStateFile()), "source-cache"), allowLocalHttp: true, allowedHosts: [] },
    ...configOverrides,
  };
  const logs: string[] = [];
  const log = createLogger({ level: "debug", write: (line) => logs.push(line) });
  const metrics = new Metrics();
  const agent = new Agent({ config, log, metrics, credentials: credentials ?? storeBroker(FAKE_CREDENTIALS), env: env ?? process.env });
  const exit = agent.run();
  return {
    agent,
    metrics,
    config,
    logs,
    exit,
    logged: (msg) => logs.map((l) => JSON.parse(l) as Record<string, unknown>).filter((r) => r.msg === msg),
  };
}

/** A test's teardown: the manager (if one was started) stops its jobs and exits, then the edge double closes. */
export async function stopTestManager(manager: TestManager | undefined, edge: EdgeRunnerApiDouble): Promise<void> {
  if (manager) {
    manager.agent.cancelAll("test over");
    await manager.exit;
  }
  await edge.close();
}
