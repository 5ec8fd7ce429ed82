import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startInfisical, type InfisicalDouble } from "../../test/doubles/infisical.ts";
import { parseSfdxAuthUrl } from "./auth-url.ts";
import type { InfisicalConfig } from "./config.ts";
import { createCredentialStore, registerOrg, registerRepo } from "./index.ts";
import { infisicalRepoSecretName, infisicalSecretName } from "./infisical.ts";

const REFRESH = "5Aep861TSESvWeug_xvFHRBTTbf_YrTWgEyjBJrKfPgRSH4dvhLoFTj5n9V8PY.p_V7X6e1c4FlQ.RR2NS2VRkRr";
const URL_A = `force://3MVG9client:CLIENTSECRET42:${REFRESH}@acme.my.salesforce.com`;

describe("the infisical credential store (real @infisical/sdk against the double)", () => {
  let infisical: InfisicalDouble;
  let config: InfisicalConfig;
  beforeAll(async () => {
    infisical = await startInfisical();
    config = infisical.config();
  });
  afterAll(() => infisical.close());

  it("round-trips an org: register, get, list, delete", async () => {
    await registerOrg({ alias: "uat.eu-1", sfdxAuthUrl: URL_A, config: { provider: "infisical", infisical: config }, project: "prj_01ABC" });
    const store = createCredentialStore({ provider: "infisical", infisical: config });
    expect(await store.get({ project: "prj_01ABC", alias: "uat.eu-1" })).toEqual(parseSfdxAuthUrl(URL_A));
    expect(await store.get({ project: "prj_01ABC", alias: "prod" })).toBeNull();
    expect(await store.list("prj_01ABC")).toEqual(["uat.eu-1"]);
    expect(await store.list()).toEqual([]);
    expect(await store.delete({ project: "prj_01ABC", alias: "uat.eu-1" })).toBe(true);
    expect(await store.delete({ project: "prj_01ABC", alias: "uat.eu-1" })).toBe(false);
    await store.close();
  });

  it("round-trips a repository token under its project, whatever the URL's spelling; the secret's name holds no URL", async () => {
    const token = "glpat-repoToken0123456789abcdef";
    const repo = "https://gitlab.example.com/acme/crm.git";
    await expect(
      registerRepo({ url: repo, credential: { token, username: "oauth2" }, config: { provider: "infisical", infisical: config }, project: "prj_01ABC" }),
    ).resolves.toEqual({ url: "https://gitlab.example.com/acme/crm", project: "prj_01ABC", username: "oauth2" });
    const store = createCredentialStore({ provider: "infisical", infisical: config });
    expect(await store.getRepo({ project: "prj_01ABC", url: "https://GITLAB.example.com/acme/crm/" })).toEqual({ token, username: "oauth2" });
    expect(await store.getRepo({ project: "prj_other", url: repo })).toBeNull();
    expect(await store.listRepos("prj_01ABC")).toEqual(["https://gitlab.example.com/acme/crm"]);
    const name = infisicalRepoSecretName({ project: "prj_01ABC", url: repo });
    expect(name).toMatch(/^SFP_REPO__prj_5F01ABC__[0-9a-f]{32}$/);
    expect(infisical.peek(name)).toContain(token);
    expect(await store.deleteRepo({ project: "prj_01ABC", url: repo })).toBe(true);
    expect(await store.getRepo({ project: "prj_01ABC", url: repo })).toBeNull();
    await store.close();
  });

  it("updates an existing org in place", async () => {
    const store = createCredentialStore({ provider: "infisical", infisical: config });
    await store.put({ alias: "dev" }, parseSfdxAuthUrl(URL_A));
    await store.put({ alias: "dev" }, parseSfdxAuthUrl(`force://PlatformCLI::rotated${REFRESH}@acme.my.salesforce.com`));
    expect((await store.get({ alias: "dev" }))?.refreshToken).toBe(`rotated${REFRESH}`);
    expect(infisical.peek(infisicalSecretName({ alias: "dev" }))).toContain("rotated");
    await store.close();
  });

  it("encodes project and alias into names Infisical accepts, without collisions", () => {
    const a = infisicalSecretName({ project: "prj_1", alias: "a-b" });
    const b = infisicalSecretName({ project: "prj", alias: "1_a-b" });
    expect(a).toMatch(/^[A-Za-z0-9_]+$/);
    expect(a).not.toBe(b);
  });

  it("fails clearly, without echoing the secret, when the client secret is wrong", async () => {
    const store = createCredentialStore({ provider: "infisical", infisical: { ...config, clientSecret: "not-the-secret" } });
    const err = await store.get({ alias: "dev" }).catch((e: unknown) => e as Error);
    expect(err).toBeInstanceOf(Error);
    expect((err as Error).message).toMatch(/Infisical login failed \(HTTP 401\)/);
    expect((err as Error).message).not.toContain("not-the-secret");
  });

  it("exposes the secrets it holds (client secret, access token) for masking", async () => {
    const store = createCredentialStore({ provider: "infisical", infisical: config });
    await store.list();
    expect(store.secrets()).toContain(config.clientSecret);
    expect(store.secrets()).toContain(infisical.issuedTokens.at(-1));
    await store.close();
  });
});
