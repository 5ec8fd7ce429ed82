// The credential stores behind one interface, and the write path `sfp-edge org register` uses.
import { parseSfdxAuthUrl, type OrgAuth } from "./auth-url.ts";
import type { CredentialsConfig } from "./config.ts";
import { createInfisicalStore } from "./infisical.ts";
import { createLocalStore } from "./local.ts";
import { DEFAULT_REPO_USERNAME } from "../source/checkout.ts";
import { normalizeRepoUrl, validateRepoCredential, type RepoCredential, type RepoRef } from "./repo.ts";
import { DEFAULT_PROJECT, type CredentialStore, type OrgRef } from "./store.ts";
import { createSupabaseStore } from "./supabase.ts";

export { parseSfdxAuthUrl, formatSfdxAuthUrl, orgAuthSecrets, InvalidAuthUrlError, type OrgAuth } from "./auth-url.ts";
export { credentialsConfigFromEnv, credentialsBrokerOptionsFromEnv, configSecrets, CREDENTIAL_ENV_VARS, CredentialsConfigError } from "./env.ts";
export { DEFAULT_PROJECT, type CredentialStore, type OrgRef } from "./store.ts";
export type { CredentialsConfig } from "./config.ts";
export { normalizeRepoUrl, InvalidRepoError, type RepoCredential, type RepoRef } from "./repo.ts";

export function createCredentialStore(config: CredentialsConfig): CredentialStore {
  switch (config.provider) {
    case "local":
      return createLocalStore(config);
    case "infisical":
      return createInfisicalStore(config.infisical);
    case "supabase":
      return createSupabaseStore(config);
  }
}

/**
 * Parses and validates an sfdx auth URL and writes it through the configured store. Returns the
 * org's instance URL (not a secret) so the caller can print what it registered.
 */
export async function registerOrg(opts: {
  alias: string;
  sfdxAuthUrl: string;
  config: CredentialsConfig;
  project?: string;
}): Promise<{ alias: string; project: string; instanceUrl: string }> {
  if (!/^[A-Za-z0-9][A-Za-z0-9._-]{0,99}$/.test(opts.alias)) {
    throw new Error("alias: letters, digits, '.', '_' or '-' (at most 100)");
  }
  const auth = parseSfdxAuthUrl(opts.sfdxAuthUrl);
  const store = createCredentialStore(opts.config);
  try {
    await store.put({ project: opts.project, alias: opts.alias }, auth);
  } finally {
    await store.close();
  }
  return { alias: opts.alias, project: opts.project ?? DEFAULT_PROJECT, instanceUrl: auth.instanceUrl };
}

/**
 * The lookup the manager makes for a task: the org under the task's project, else, when
 * `defaultProjectFallback` allows it, under DEFAULT_PROJECT (orgs registered without a project).
 */
export async function loadOrgAuth(store: CredentialStore, ref: OrgRef, opts: { defaultProjectFallback: boolean }): Promise<OrgAuth | null> {
  const own = await store.get(ref);
  if (own || !opts.defaultProjectFallback || ref.project === undefined || ref.project === DEFAULT_PROJECT) return own;
  return store.get({ alias: ref.alias });
}

/** Stores a repository's token (`sfp-edge repo register`); returns what it stored, without the token. */
export async function registerRepo(opts: {
  url: string;
  credential: RepoCredential;
  config: CredentialsConfig;
  project?: string;
}): Promise<{ url: string; project: string; username: string }> {
  const url = normalizeRepoUrl(opts.url);
  const credential = validateRepoCredential(opts.credential);
  const store = createCredentialStore(opts.config);
  try {
    await store.putRepo({ project: opts.project, url }, credential);
  } finally {
    await store.close();
  }
  return { url, project: opts.project ?? DEFAULT_PROJECT, username: credential.username ?? DEFAULT_REPO_USERNAME };
}

/** A task's repository token, looked up as its org is (the task's project, then `default` if allowed). */
export async function loadRepoCredential(store: CredentialStore, ref: RepoRef, opts: { defaultProjectFallback: boolean }): Promise<RepoCredential | null> {
  const own = await store.getRepo(ref);
  if (own || !opts.defaultProjectFallback || ref.project === undefined || ref.project === DEFAULT_PROJECT) return own;
  return store.getRepo({ url: ref.url });
}
