import { mkdtemp, readFile, rm, stat } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { parseSfdxAuthUrl } from "./auth-url.ts";
import { createCredentialStore, credentialsConfigFromEnv, registerOrg } from "./index.ts";

const REFRESH = "5Aep861TSESvWeug_xvFHRBTTbf_YrTWgEyjBJrKfPgRSH4dvhLoFTj5n9V8PY.p_V7X6e1c4FlQ.RR2NS2VRkRr";
const URL_A = `force://3MVG9client:CLIENTSECRET42:${REFRESH}@acme.my.salesforce.com`;

describe("the local credential store", () => {
  let dir: string;
  let file: string;
  const key = "correct horse battery staple";
  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), "sfp-local-"));
    file = join(dir, "nested", "credentials.json");
  });
  afterAll(() => rm(dir, { recursive: true, force: true }));

  it("round-trips an org through registerOrg and get", async () => {
    const config = { provider: "local" as const, file, key };
    await expect(registerOrg({ alias: "uat", sfdxAuthUrl: URL_A, config })).resolves.toEqual({
      alias: "uat",
      project: "default",
      instanceUrl: "https://acme.my.salesforce.com",
    });
    const store = createCredentialStore(config);
    expect(await store.get({ alias: "uat" })).toEqual(parseSfdxAuthUrl(URL_A));
    expect(await store.get({ alias: "missing" })).toBeNull();
    expect(await store.list()).toEqual(["uat"]);
    await store.close();
  });

  it("keeps orgs of different projects apart", async () => {
    const store = createCredentialStore({ provider: "local", file, key });
    await store.put({ project: "prj_A", alias: "uat" }, parseSfdxAuthUrl(`force://PlatformCLI::other${REFRESH}@a.my.salesforce.com`));
    expect((await store.get({ project: "prj_A", alias: "uat" }))?.instanceUrl).toBe("https://a.my.salesforce.com");
    expect((await store.get({ alias: "uat" }))?.instanceUrl).toBe("https://acme.my.salesforce.com");
    expect(await store.list("prj_A")).toEqual(["uat"]);
    expect(await store.delete({ project: "prj_A", alias: "uat" })).toBe(true);
    expect(await store.delete({ project: "prj_A", alias: "uat" })).toBe(false);
    await store.close();
  });

  it("writes the file with mode 0600 and never holds a token in clear", async () => {
    const st = await stat(file);
    expect(st.mode & 0o777).toBe(0o600);
    const text = await readFile(file, "utf8");
    expect(text).not.toContain(REFRESH);
    expect(text).not.toContain("CLIENTSECRET42");
    expect(text).not.toContain(Buffer.from(REFRESH).toString("base64").slice(0, 20));
  });

  it("refuses to decrypt with the wrong key", async () => {
    const store = createCredentialStore({ provider: "local", file, key: "wrong key" });
    await expect(store.get({ alias: "uat" })).rejects.toThrow(/cannot decrypt/);
    await store.close();
  });

  it("rejects an invalid auth URL or alias before writing anything", async () => {
    const config = { provider: "local" as const, file: join(dir, "other.json"), key };
    await expect(registerOrg({ alias: "uat", sfdxAuthUrl: "https://nope", config })).rejects.toThrow(/invalid sfdx auth URL/);
    await expect(registerOrg({ alias: "../etc", sfdxAuthUrl: URL_A, config })).rejects.toThrow(/alias/);
    await expect(stat(config.file)).rejects.toThrow();
  });
});

describe("credentialsConfigFromEnv", () => {
  it("defaults to the local store and requires its key", () => {
    expect(() => credentialsConfigFromEnv({})).toThrow(/SFP_LOCAL_CREDENTIALS_KEY/);
    expect(credentialsConfigFromEnv({ SFP_LOCAL_CREDENTIALS_KEY: "k", SFP_LOCAL_CREDENTIALS_FILE: "/tmp/c.json" })).toEqual({
      provider: "local",
      file: "/tmp/c.json",
      key: "k",
    });
  });

  it("reads the infisical and supabase settings with documented defaults", () => {
    const infisical = { INFISICAL_CLIENT_ID: "id", INFISICAL_CLIENT_SECRET: "s", INFISICAL_PROJECT_ID: "p" };
    expect(credentialsConfigFromEnv({ SFP_CREDENTIALS: "infisical", ...infisical })).toEqual({
      provider: "infisical",
      infisical: { siteUrl: "https://app.infisical.com", clientId: "id", clientSecret: "s", projectId: "p", environment: "prod", secretPath: "/sfp-edge" },
    });
    const cfg = credentialsConfigFromEnv({ SFP_CREDENTIALS: "supabase", SUPABASE_URL: "https://x.supabase.co", SUPABASE_SERVICE_KEY: "k", ...infisical });
    expect(cfg).toMatchObject({ provider: "supabase", supabase: { url: "https://x.supabase.co", serviceKey: "k" } });
    expect(() => credentialsConfigFromEnv({ SFP_CREDENTIALS: "supabase", ...infisical })).toThrow(/SUPABASE_URL/);
  });

  it("rejects an unknown provider", () => {
    expect(() => credentialsConfigFromEnv({ SFP_CREDENTIALS: "vault" })).toThrow(/local, infisical or supabase/);
  });
});
