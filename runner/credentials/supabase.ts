// Org auth rows in a Supabase (PostgreSQL) table, each auth URL sealed with AES-256-GCM under a data
// key that lives in Infisical as SFP_DATA_KEY_V<n>. New rows use the highest version; old rows keep
// naming theirs, so a key can be rotated by adding V<n+1> and re-putting the orgs.
import { createClient } from "@supabase/supabase-js";
import { formatSfdxAuthUrl, parseSfdxAuthUrl, type OrgAuth } from "./auth-url.ts";
import type { InfisicalConfig } from "./config.ts";
import { newDataKey, open, parseDataKey, seal } from "./crypto.ts";
import { connectInfisical, type InfisicalSecrets } from "./infisical-client.ts";
import { normalizeRepoUrl, parseRepoCredential, repoKeyOf, repoProjectOf, serializeRepoCredential, type RepoRef } from "./repo.ts";
import { DEFAULT_PROJECT, projectOf, type CredentialStore, type OrgRef } from "./store.ts";

export const DEFAULT_TABLE = "sfp_org_auth";
/** Repository tokens (migrations/003_repo_auth.sql). */
export const REPO_TABLE = "sfp_repo_auth";
const DATA_KEY_PREFIX = "SFP_DATA_KEY_V";

interface Row {
  project: string;
  alias: string;
  ciphertext: string;
  iv: string;
  key_version: number;
  updated_at?: string;
}

const aadOf = (ref: OrgRef, version: number) => `${projectOf(ref)}/${ref.alias}#v${version}`;
const repoAadOf = (ref: RepoRef, version: number) => `repo:${repoKeyOf(ref)}#v${version}`;

export function createSupabaseStore(config: { supabase: { url: string; serviceKey: string; table?: string }; infisical: InfisicalConfig }): CredentialStore {
  const table = config.supabase.table ?? DEFAULT_TABLE;
  const db = createClient(config.supabase.url, config.supabase.serviceKey, {
    auth: { persistSession: false, autoRefreshToken: false, detectSessionInUrl: false },
  });
  const keys = new Map<number, Buffer>();
  let vault: Promise<InfisicalSecrets> | null = null;
  let connected: InfisicalSecrets | null = null;
  const infisical = () => (vault ??= connectInfisical(config.infisical).then((c) => (connected = c)));

  const keyVersion = async (version: number): Promise<Buffer> => {
    const cached = keys.get(version);
    if (cached) return cached;
    const text = await (await infisical()).get(`${DATA_KEY_PREFIX}${version}`);
    if (text === null) throw new Error(`data key version ${version} is missing from Infisical`);
    const key = parseDataKey(text);
    keys.set(version, key);
    return key;
  };

  /** The highest data key version, creating version 1 when Infisical holds none yet (never overwriting one). */
  const currentVersion = async (): Promise<number> => {
    const client = await infisical();
    const versions = (await client.names())
      .filter((n) => n.startsWith(DATA_KEY_PREFIX))
      .map((n) => Number(n.slice(DATA_KEY_PREFIX.length)))
      .filter((n) => Number.isInteger(n) && n > 0);
    if (versions.length) return Math.max(...versions);
    // Create-only: of two first registrations racing here, one creates the key and the other, refused,
    // reads the winner's (keyVersion reads it back from Infisical rather than trusting the local copy).
    await client.create(`${DATA_KEY_PREFIX}1`, newDataKey());
    return 1;
  };

  const fail = (what: string, error: { message: string; code?: string }) =>
    new Error(`Supabase ${what} failed: ${error.message}${error.code ? ` (${error.code})` : ""}`);

  return {
    async get(ref) {
      const { data, error } = await db
        .from(table)
        .select("ciphertext,iv,key_version")
        .eq("project", projectOf(ref))
        .eq("alias", ref.alias)
        .maybeSingle<Pick<Row, "ciphertext" | "iv" | "key_version">>();
      if (error) throw fail("read", error);
      if (!data) return null;
      const key = await keyVersion(data.key_version);
      return parseSfdxAuthUrl(open(key, data, aadOf(ref, data.key_version), `the credentials of ${ref.alias}`));
    },
    async put(ref, auth: OrgAuth) {
      const version = await currentVersion();
      const sealed = seal(await keyVersion(version), formatSfdxAuthUrl(auth), aadOf(ref, version));
      const row: Row = { project: projectOf(ref), alias: ref.alias, ...sealed, key_version: version, updated_at: new Date().toISOString() };
      const { error } = await db.from(table).upsert(row, { onConflict: "project,alias" });
      if (error) throw fail("write", error);
    },
    async delete(ref) {
      const { data, error } = await db.from(table).delete().eq("project", projectOf(ref)).eq("alias", ref.alias).select("alias");
      if (error) throw fail("delete", error);
      return (data?.length ?? 0) > 0;
    },
    async list(project = DEFAULT_PROJECT) {
      const { data, error } = await db.from(table).select("alias").eq("project", project).order("alias");
      if (error) throw fail("list", error);
      return (data ?? []).map((r: { alias: string }) => r.alias).sort();
    },
    async getRepo(ref) {
      const { data, error } = await db
        .from(REPO_TABLE)
        .select("ciphertext,iv,key_version")
        .eq("project", repoProjectOf(ref))
        .eq("url", normalizeRepoUrl(ref.url))
        .maybeSingle<Pick<Row, "ciphertext" | "iv" | "key_version">>();
      if (error) throw fail("read", error);
      if (!data) return null;
      const key = await keyVersion(data.key_version);
      return parseRepoCredential(ref, open(key, data, repoAadOf(ref, data.key_version), `the token of ${repoKeyOf(ref)}`));
    },
    async putRepo(ref, cred) {
      const version = await currentVersion();
      const sealed = seal(await keyVersion(version), serializeRepoCredential(ref, cred), repoAadOf(ref, version));
      const row = { project: repoProjectOf(ref), url: normalizeRepoUrl(ref.url), ...sealed, key_version: version, updated_at: new Date().toISOString() };
      const { error } = await db.from(REPO_TABLE).upsert(row, { onConflict: "project,url" });
      if (error) throw fail("write", error);
    },
    async deleteRepo(ref) {
      const { data, error } = await db.from(REPO_TABLE).delete().eq("project", repoProjectOf(ref)).eq("url", normalizeRepoUrl(ref.url)).select("url");
      if (error) throw fail("delete", error);
      return (data?.length ?? 0) > 0;
    },
    async listRepos(project = DEFAULT_PROJECT) {
      const { data, error } = await db.from(REPO_TABLE).select("url").eq("project", project).order("url");
      if (error) throw fail("list", error);
      return (data ?? []).map((r: { url: string }) => r.url).sort();
    },
    secrets() {
      const out = [config.supabase.serviceKey, config.infisical.clientSecret, connected?.accessToken ?? ""];
      for (const k of keys.values()) out.push(k.toString("base64"), k.toString("hex"));
      return out.filter(Boolean);
    },
    async close() {
      for (const k of keys.values()) k.fill(0);
      keys.clear();
      vault = null;
      connected = null;
      await db.removeAllChannels();
    },
  };
}
