import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { parseSfdxAuthUrl } from "./auth-url.ts";
import { CredentialError, storeBroker } from "./broker.ts";
import type { CredentialsConfig } from "./config.ts";
import { credentialsBrokerOptionsFromEnv, registerOrg } from "./index.ts";

const URL_A = "force://3MVG9client:CLIENTSECRET42:5Aep861TSESvWeug_xvFHRBTTbf_YrTWgEyjBJrKfPgRSH4dvh@acme.my.salesforce.com";
const KEY = "broker-test-local-store-passphrase";

describe("the manager's credential broker", () => {
  let dir: string;
  let config: Extract<CredentialsConfig, { provider: "local" }>;
  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), "sfp-broker-"));
    config = { provider: "local", file: join(dir, "credentials.json"), key: KEY };
    await registerOrg({ alias: "uat", sfdxAuthUrl: URL_A, config, project: "prj_A" });
    // Registered without a project, as on a laptop: under `default`.
    await registerOrg({ alias: "laptop", sfdxAuthUrl: URL_A, config });
  });
  afterAll(() => rm(dir, { recursive: true, force: true }));

  it("answers one org's auth, with the secrets to mask along with it", async () => {
    const { auth, secrets } = await storeBroker(config).authFor({ project: "prj_A", alias: "uat" });
    expect(auth).toEqual(parseSfdxAuthUrl(URL_A));
    expect(secrets).toEqual(expect.arrayContaining([auth.refreshToken, auth.clientSecret]));
    expect(secrets).not.toContain(KEY);
  });

  it("fails with credentials_not_found, saying how to register the org", async () => {
    const err = await storeBroker(config)
      .authFor({ project: "prj_A", alias: "prod" })
      .catch((e: unknown) => e);
    expect(err).toBeInstanceOf(CredentialError);
    expect(err).toMatchObject({ code: "credentials_not_found", message: expect.stringContaining("sfp-edge org register --alias prod --project prj_A") });
  });

  it("fails with credentials_unavailable, masked, when the store cannot be read", async () => {
    const wrong = "the-wrong-passphrase-0123";
    const err = await storeBroker({ ...config, key: wrong })
      .authFor({ project: "prj_A", alias: "uat" })
      .catch((e: unknown) => e);
    expect(err).toMatchObject({ code: "credentials_unavailable", message: expect.stringContaining("cannot read the credentials of uat (local)") });
    expect(String((err as Error).message)).not.toContain(wrong);
  });

  it("does not fall back to an org registered without a project unless told to: credentials_not_found, saying why", async () => {
    const err = await storeBroker(config)
      .authFor({ project: "prj_A", alias: "laptop" })
      .catch((e: unknown) => e);
    expect(err).toBeInstanceOf(CredentialError);
    expect(err).toMatchObject({ code: "credentials_not_found", message: expect.stringContaining("SFP_CREDENTIALS_DEFAULT_FALLBACK") });
    const { auth } = await storeBroker(config, { defaultProjectFallback: true }).authFor({ project: "prj_A", alias: "laptop" });
    expect(auth).toEqual(parseSfdxAuthUrl(URL_A));
    // A task of the default project itself needs no fallback.
    expect((await storeBroker(config).authFor({ project: "default", alias: "laptop" })).auth).toEqual(parseSfdxAuthUrl(URL_A));
  });

  it("reads the fallback setting from SFP_CREDENTIALS_DEFAULT_FALLBACK (off unless true)", () => {
    expect(credentialsBrokerOptionsFromEnv({})).toEqual({ defaultProjectFallback: false });
    expect(credentialsBrokerOptionsFromEnv({ SFP_CREDENTIALS_DEFAULT_FALLBACK: "false" })).toEqual({ defaultProjectFallback: false });
    expect(credentialsBrokerOptionsFromEnv({ SFP_CREDENTIALS_DEFAULT_FALLBACK: "true" })).toEqual({ defaultProjectFallback: true });
    expect(() => credentialsBrokerOptionsFromEnv({ SFP_CREDENTIALS_DEFAULT_FALLBACK: "yes please" })).toThrow(/SFP_CREDENTIALS_DEFAULT_FALLBACK/);
  });
});
