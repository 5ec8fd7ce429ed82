// Reading the manager's settings from the environment.
import { describe, expect, it } from "vitest";
import { ConfigError, DEFAULT_WORKER_ENTRY, configFromEnv } from "./config.ts";

const base = { SFP_EDGE_URL: "https://edge.example/" };

describe("configFromEnv", () => {
  it("fills in defaults: one slot, loopback listener, the real worker, 5 s + 10 s grace", () => {
    const config = configFromEnv(base);
    expect(config).toMatchObject({
      edgeUrl: "https://edge.example",
      slots: 1,
      ephemeral: false,
      labels: [],
      listen: { host: "127.0.0.1", port: 8790 },
      workerEntry: DEFAULT_WORKER_ENTRY,
      cancelGraceMs: 5_000,
      killGraceMs: 10_000,
    });
    expect(DEFAULT_WORKER_ENTRY).toMatch(/runner\/worker\/main\.ts$/);
  });

  it("reads every SFP_RUNNER_* setting, and an ephemeral runner always has one slot", () => {
    const config = configFromEnv({
      ...base,
      SFP_REGISTRATION_TOKEN: "rgt",
      SFP_RUNNER_NAME: "r1",
      SFP_RUNNER_LABELS: "linux, big ,",
      SFP_RUNNER_SLOTS: "4",
      SFP_RUNNER_EPHEMERAL: "yes",
      SFP_RUNNER_STATE_FILE: "/var/lib/x/state.json",
      SFP_RUNNER_LISTEN: "[::1]:9000",
      SFP_TASK_CANCEL_GRACE_SECONDS: "0.5",
      SFP_TASK_KILL_GRACE_SECONDS: "2",
      SFP_WORKER_ENV_PASSTHROUGH: "HTTPS_PROXY,NO_PROXY",
    });
    expect(config).toMatchObject({
      registrationToken: "rgt",
      name: "r1",
      labels: ["linux", "big"],
      slots: 1,
      ephemeral: true,
      stateFile: "/var/lib/x/state.json",
      listen: { host: "::1", port: 9000 },
      cancelGraceMs: 500,
      killGraceMs: 2_000,
      workerEnvPassthrough: ["HTTPS_PROXY", "NO_PROXY"],
    });
  });

  it.each([
    [{}, "SFP_EDGE_URL"],
    [{ SFP_EDGE_URL: "edge.example" }, "SFP_EDGE_URL"],
    [{ ...base, SFP_RUNNER_SLOTS: "0" }, "SFP_RUNNER_SLOTS"],
    [{ ...base, SFP_RUNNER_SLOTS: "65" }, "SFP_RUNNER_SLOTS"],
    [{ ...base, SFP_RUNNER_EPHEMERAL: "maybe" }, "SFP_RUNNER_EPHEMERAL"],
    [{ ...base, SFP_RUNNER_LISTEN: "8790" }, "SFP_RUNNER_LISTEN"],
    [{ ...base, SFP_TASK_KILL_GRACE_SECONDS: "-1" }, "SFP_TASK_KILL_GRACE_SECONDS"],
    [{ ...base, SFP_WORKER_ENV_PASSTHROUGH: "INFISICAL_CLIENT_SECRET" }, "SFP_WORKER_ENV_PASSTHROUGH"],
    [{ ...base, SFP_LOG_LEVEL: "loud" }, "SFP_LOG_LEVEL"],
  ])("refuses %j naming %s", (env, variable) => {
    expect(() => configFromEnv(env)).toThrow(ConfigError);
    expect(() => configFromEnv(env)).toThrow(variable);
  });

  it("reads the repository hosts runners fetch from on private addresses (SFP_SOURCE_ALLOWED_HOSTS); none by default", () => {
    expect(configFromEnv(base).source.allowedHosts).toEqual([]);
    const config = configFromEnv({ ...base, SFP_SOURCE_ALLOWED_HOSTS: "Git.Corp.example, *.internal.example" });
    expect(config.source).toMatchObject({ allowLocalHttp: false, allowedHosts: ["git.corp.example", "*.internal.example"] });
    expect(() => configFromEnv({ ...base, SFP_SOURCE_ALLOWED_HOSTS: "https://git.corp.example" })).toThrow(ConfigError);
  });
});
