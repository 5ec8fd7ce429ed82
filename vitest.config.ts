import { cloudflareTest } from "@cloudflare/vitest-plugin";
import { defineConfig } from "vitest/config";

// Two projects: code that runs in workerd (edge and actors) is tested inside workerd; the runner,
// CLI and the system tests that start real processes run in Node.
export default defineConfig({
  test: {
    projects: [
      {
        plugins: [
          cloudflareTest({
            wrangler: { configPath: "./wrangler.toml" },
            miniflare: {
              bindings: {
                ADMIN_TOKEN: "test-admin-token",
                TOKEN_SIGNING_KEY: "test-token-signing-key-0123456789abcdef",
                ORIGIN_TOKEN: "test-origin-token",
                LEASE_SECONDS: "60",
                ACCEPT_SECONDS: "15",
                // Artifact limits small enough to pass in a test (3 MiB each, 4 MiB a task), still over the API's 1 MiB.
                ARTIFACT_MAX_BYTES: String(3 * 1024 * 1024),
                ARTIFACT_TASK_MAX_BYTES: String(4 * 1024 * 1024),
              },
              // The local limiter answers about 100 calls a second on a busy 2-core machine, so the
              // production 1,000 per 10 s window cannot be filled reliably there; the tests check the
              // keying and the refusal against limits a loaded machine reaches (UNAUTH_LIMIT as deployed;
              // a source's limit stays above it, so an address can fail its way to 429 before its source does).
              ratelimits: {
                API_LIMIT: { namespace_id: "1001", simple: { limit: 100, period: 10 } },
                WEBHOOK_LIMIT: { namespace_id: "1002", simple: { limit: 200, period: 10 } },
              },
            },
          }),
        ],
        test: {
          name: "workers",
          include: ["test/workers/**/*.test.ts"],
          // Loopback doubles the Worker sends to (outbound webhooks, commit status APIs).
          globalSetup: ["test/workers/loopback-doubles.ts"],
          testTimeout: 20_000,
          // One workerd for every file instead of a fresh one per file (about 2.5 s each, 140 s of a
          // 220 s project on two cores). Files stay independent because each test makes its own
          // project, tokens and tasks; limiters are keyed per token, source or test address.
          isolate: false,
        },
      },
      {
        test: {
          name: "node",
          environment: "node",
          include: ["protocol/**/*.test.ts", "runner/**/*.test.ts", "cli/**/*.test.ts", "test/system/**/*.test.ts"],
          testTimeout: 60_000,
          hookTimeout: 120_000,
          // One process reuses its imports across files (the system tests each import the runner, CLI
          // and doubles); every file starts and stops its own processes and servers.
          isolate: false,
        },
      },
    ],
  },
});
