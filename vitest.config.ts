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
              },
            },
          }),
        ],
        test: {
          name: "workers",
          include: ["test/workers/**/*.test.ts"],
          testTimeout: 20_000,
        },
      },
      {
        test: {
          name: "node",
          environment: "node",
          include: ["runner/**/*.test.ts", "cli/**/*.test.ts", "test/system/**/*.test.ts"],
          testTimeout: 60_000,
          hookTimeout: 120_000,
        },
      },
    ],
  },
});
