import { cloudflareTest } from "@cloudflare/vitest-plugin";
import { defineConfig } from "vitest/config";

/**
 * Code that runs in workerd (edge and actors) is tested inside workerd, with API_LIMIT per token and
 * 10 s window `apiLimit`. The local limiter answers about 100 calls a second on a busy 2-core
 * machine, so the production 1,000 per 10 s window cannot be filled reliably there; the tests check
 * the keying and the refusal against limits a loaded machine reaches (UNAUTH_LIMIT as deployed; a
 * source's limit stays above it, so an address can fail its way to 429 before its source does).
 */
function workersProject(name: string, include: string[], apiLimit: number, opts: { exclude?: string[]; isolate?: boolean } = {}) {
  return {
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
          ratelimits: {
            API_LIMIT: { namespace_id: "1001", simple: { limit: apiLimit, period: 10 } },
            WEBHOOK_LIMIT: { namespace_id: "1002", simple: { limit: 200, period: 10 } },
          },
        },
      }),
    ],
    test: {
      name,
      include,
      exclude: opts.exclude ?? [],
      isolate: opts.isolate ?? true,
      // Loopback doubles the Worker sends to (outbound webhooks, commit status APIs).
      globalSetup: ["test/workers/loopback-doubles.ts"],
      testTimeout: 20_000,
    },
  };
}

// The per-token limit's own tests fill a window of 100; they run in a workerd of their own.
const LIMIT_TESTS = ["test/workers/rate-limit.test.ts"];

// Three projects: workerd for everything but the per-token limit's tests, workerd for those, Node for
// the runner, the CLI and the system tests that start real processes.
export default defineConfig({
  test: {
    projects: [
      // One workerd for every file instead of a fresh one per file (about 2.5 s each, 140 s of a 220 s
      // project on two cores). Files stay independent because each test makes its own project, tokens
      // and tasks, and calls from its own client address. Every test's project is made with the one
      // admin token, hundreds within a window: hence the per-token limit out of the way here, and its
      // own tests in the next project.
      workersProject("workers", ["test/workers/**/*.test.ts"], 1_000_000, { exclude: LIMIT_TESTS, isolate: false }),
      workersProject("workers-limits", LIMIT_TESTS, 100),
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
