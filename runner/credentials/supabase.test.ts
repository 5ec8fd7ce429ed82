import type pg from "pg";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startInfisical, type InfisicalDouble } from "../../test/doubles/infisical.ts";
import { startPostgres, type TestPostgres } from "../../test/doubles/postgres.ts";
import { startSupabaseRest, type SupabaseRestDouble } from "../../test/doubles/supabase-rest.ts";
import { parseSfdxAuthUrl } from "./auth-url.ts";
import type { CredentialsConfig } from "./config.ts";
import { createCredentialStore, registerOrg, registerRepo } from "./index.ts";
import { migrate } from "./migrate.ts";

const REFRESH = "5Aep861TSESvWeug_xvFHRBTTbf_YrTWgEyjBJrKfPgRSH4dvhLoFTj5n9V8PY.p_V7X6e1c4FlQ.RR2NS2VRkRr";
const URL_A = `force://3MVG9client:CLIENTSECRET42:${REFRESH}@acme.my.salesforce.com`;
const URL_B = `force://3MVG9other:OTHERSECRET77:b${REFRESH}@beta.my.salesforce.com`;

describe("the supabase credential store (real PostgreSQL, real supabase-js, Infisical-held data key)", () => {
  let postgres: TestPostgres;
  let db: pg.Client;
  let rest: SupabaseRestDouble;
  let infisical: InfisicalDouble;
  let config: Extract<CredentialsConfig, { provider: "supabase" }>;

  beforeAll(async () => {
    postgres = await startPostgres();
    db = await postgres.client();
    rest = await startSupabaseRest({ connectionString: postgres.connectionString });
    infisical = await startInfisical();
    config = {
      provider: "supabase",
      supabase: { url: rest.url, serviceKey: rest.serviceKey },
      infisical: infisical.config(),
    };
  });
  afterAll(async () => {
    await rest?.close();
    await infisical?.close();
    await postgres?.close();
  });

  it("applies the SQL migrations once, in order", async () => {
    expect(await migrate(db)).toEqual(["001_org_auth.sql", "002_org_auth_updated_at.sql", "003_repo_auth.sql"]);
    expect(await migrate(db)).toEqual([]);
    const cols = await db.query<{ column_name: string }>(
      "select column_name from information_schema.columns where table_name = 'sfp_org_auth' order by ordinal_position",
    );
    expect(cols.rows.map((r) => r.column_name)).toEqual(["project", "alias", "ciphertext", "iv", "key_version", "created_at", "updated_at"]);
  });

  it("round-trips an org, creating data key version 1 in Infisical on first write", async () => {
    await registerOrg({ alias: "uat", sfdxAuthUrl: URL_A, config, project: "prj_A" });
    expect(infisical.peek("SFP_DATA_KEY_V1")).toMatch(/^[A-Za-z0-9+/]{43}=$/);
    const store = createCredentialStore(config);
    expect(await store.get({ project: "prj_A", alias: "uat" })).toEqual(parseSfdxAuthUrl(URL_A));
    expect(await store.get({ project: "prj_B", alias: "uat" })).toBeNull();
    expect(await store.list("prj_A")).toEqual(["uat"]);
    await store.close();
  });

  it("round-trips a repository token, sealed in its own table under the same data key", async () => {
    const token = "ghp_supabaseRepoToken0123456789abcd";
    await registerRepo({ url: "https://github.com/acme/crm.git", credential: { token }, config, project: "prj_A" });
    const store = createCredentialStore(config);
    expect(await store.getRepo({ project: "prj_A", url: "https://github.com/acme/crm" })).toEqual({ token });
    expect(await store.getRepo({ project: "prj_B", url: "https://github.com/acme/crm" })).toBeNull();
    expect(await store.listRepos("prj_A")).toEqual(["https://github.com/acme/crm"]);
    const rows = await db.query<{ url: string; ciphertext: string }>("select url, ciphertext from sfp_repo_auth");
    expect(rows.rows.map((r) => r.url)).toEqual(["https://github.com/acme/crm"]);
    expect(JSON.stringify(rows.rows)).not.toContain(token);
    // A row moved to another repository does not open there: the ciphertext is bound to its own.
    await db.query("update sfp_repo_auth set url = 'https://github.com/acme/other'");
    await expect(store.getRepo({ project: "prj_A", url: "https://github.com/acme/other" })).rejects.toThrow(/cannot decrypt/);
    await db.query("delete from sfp_repo_auth");
    await store.close();
  });

  it("two first registrations at once make one data key: create-only, the loser reads the winner's", async () => {
    const vault = await startInfisical();
    try {
      const fresh = { ...config, infisical: vault.config() };
      // Both see a folder without data keys, then both write version 1.
      vault.holdLists(2);
      const results = await Promise.allSettled([
        registerOrg({ alias: "race-a", sfdxAuthUrl: URL_A, config: fresh, project: "prj_race" }),
        registerOrg({ alias: "race-b", sfdxAuthUrl: URL_B, config: fresh, project: "prj_race" }),
      ]);
      expect(results.map((r) => (r.status === "rejected" ? String(r.reason) : r.status))).toEqual(["fulfilled", "fulfilled"]);
      const keyWrites = vault.requests.filter((r) => r.url.includes("SFP_DATA_KEY_V1") && r.method !== "GET");
      expect(keyWrites.map((r) => r.method)).toEqual(["POST", "POST"]);
      const store = createCredentialStore(fresh);
      expect(await store.get({ project: "prj_race", alias: "race-a" })).toEqual(parseSfdxAuthUrl(URL_A));
      expect(await store.get({ project: "prj_race", alias: "race-b" })).toEqual(parseSfdxAuthUrl(URL_B));
      await store.close();
    } finally {
      await vault.close();
    }
  });

  it("stores only ciphertext in PostgreSQL", async () => {
    const { rows } = await db.query("select * from sfp_org_auth where project = 'prj_A' and alias = 'uat'");
    expect(rows).toHaveLength(1);
    const dump = JSON.stringify(rows);
    expect(dump).not.toContain(REFRESH);
    expect(dump).not.toContain("CLIENTSECRET42");
    expect(rows[0].key_version).toBe(1);
  });

  it("upserts over an existing row and bumps updated_at", async () => {
    const before = (await db.query<{ updated_at: Date }>("select updated_at from sfp_org_auth where alias = 'uat'")).rows[0].updated_at;
    await new Promise((r) => setTimeout(r, 20));
    const store = createCredentialStore(config);
    await store.put({ project: "prj_A", alias: "uat" }, parseSfdxAuthUrl(`force://PlatformCLI::v2${REFRESH}@acme.my.salesforce.com`));
    expect((await store.get({ project: "prj_A", alias: "uat" }))?.refreshToken).toBe(`v2${REFRESH}`);
    const after = (await db.query<{ updated_at: Date; n: string }>("select updated_at, count(*) over () as n from sfp_org_auth where alias = 'uat'")).rows[0];
    expect(after.n).toBe("1");
    expect(after.updated_at.getTime()).toBeGreaterThan(before.getTime());
    await store.close();
  });

  it("encrypts new rows with a rotated key while old rows stay readable", async () => {
    const store = createCredentialStore(config);
    await store.put({ project: "prj_A", alias: "old" }, parseSfdxAuthUrl(URL_A));
    infisical.seed("SFP_DATA_KEY_V2", Buffer.alloc(32, 7).toString("base64"));
    const rotated = createCredentialStore(config);
    await rotated.put({ project: "prj_A", alias: "new" }, parseSfdxAuthUrl(URL_A));
    const versions = await db.query<{ alias: string; key_version: number }>(
      "select alias, key_version from sfp_org_auth where alias in ('old','new') order by alias",
    );
    expect(versions.rows).toEqual([
      { alias: "new", key_version: 2 },
      { alias: "old", key_version: 1 },
    ]);
    expect(await rotated.get({ project: "prj_A", alias: "old" })).toEqual(parseSfdxAuthUrl(URL_A));
    await store.close();
    await rotated.close();
  });

  it("detects a row moved to another alias (the ciphertext is bound to its place)", async () => {
    await db.query(
      "insert into sfp_org_auth (project, alias, ciphertext, iv, key_version) select project, 'moved', ciphertext, iv, key_version from sfp_org_auth where alias = 'old'",
    );
    const store = createCredentialStore(config);
    await expect(store.get({ project: "prj_A", alias: "moved" })).rejects.toThrow(/cannot decrypt/);
    await store.close();
  });

  it("deletes a row and says whether there was one", async () => {
    const store = createCredentialStore(config);
    expect(await store.delete({ project: "prj_A", alias: "moved" })).toBe(true);
    expect(await store.delete({ project: "prj_A", alias: "moved" })).toBe(false);
    await store.close();
  });

  it("fails with the PostgREST answer when the service key is wrong", async () => {
    const store = createCredentialStore({ ...config, supabase: { ...config.supabase, serviceKey: "anon-key" } });
    await expect(store.get({ project: "prj_A", alias: "uat" })).rejects.toThrow(/Invalid API key/);
    await store.close();
  });

  it("sends the service key only as apikey/Authorization headers, and only ciphertext in bodies", () => {
    // The tests above read, wrote, upserted and deleted through supabase-js: all of it is recorded here.
    const withKey = rest.requests.filter((r) => r.headers.apikey === rest.serviceKey);
    expect(withKey.length).toBeGreaterThanOrEqual(8);
    expect(new Set(withKey.map((r) => r.method))).toEqual(new Set(["GET", "POST", "DELETE"]));
    for (const r of withKey) expect(r.headers.authorization).toBe(`Bearer ${rest.serviceKey}`);
    const writes = withKey.filter((r) => r.method === "POST");
    expect(writes.length).toBeGreaterThanOrEqual(3);
    for (const r of writes) {
      // An upserted row: sealed auth URL, its IV and key version, and nothing in the clear.
      const rows = [JSON.parse(r.body)].flat() as Array<Record<string, unknown>>;
      expect(rows.length).toBeGreaterThan(0);
      // An org row names its alias, a repository row its URL (not a secret); nothing else is in the clear.
      const orgRow = ["alias", "ciphertext", "iv", "key_version", "project", "updated_at"];
      const repoRow = ["ciphertext", "iv", "key_version", "project", "updated_at", "url"];
      for (const row of rows) expect([orgRow, repoRow]).toContainEqual(Object.keys(row).sort());
    }
    for (const r of rest.requests) {
      for (const secret of [rest.serviceKey, REFRESH, "CLIENTSECRET42", `v2${REFRESH}`, "ghp_supabaseRepoToken0123456789abcd"]) {
        expect(r.url).not.toContain(secret);
        expect(r.body).not.toContain(secret);
      }
    }
  });
});
