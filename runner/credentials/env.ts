// Reads the credential-store settings from the manager's environment (once, at start). The manager
// then strips CREDENTIAL_ENV_VARS from what its children inherit and hands the config over IPC.
import { homedir } from "node:os";
import { join } from "node:path";
import type { CredentialsConfig, InfisicalConfig } from "./config.ts";

export const CREDENTIAL_ENV_VARS = [
  "SFP_CREDENTIALS",
  "SFP_LOCAL_CREDENTIALS_FILE",
  "SFP_LOCAL_CREDENTIALS_KEY",
  "INFISICAL_SITE_URL",
  "INFISICAL_CLIENT_ID",
  "INFISICAL_CLIENT_SECRET",
  "INFISICAL_PROJECT_ID",
  "INFISICAL_ENVIRONMENT",
  "INFISICAL_SECRET_PATH",
  "SUPABASE_URL",
  "SUPABASE_SERVICE_KEY",
  "SUPABASE_TABLE",
  "SFP_CREDENTIALS_DEFAULT_FALLBACK",
] as const;

export const DEFAULT_LOCAL_FILE = join(homedir(), ".sfp-edge", "credentials.json");
const DEFAULT_INFISICAL_SITE = "https://app.infisical.com";
const DEFAULT_INFISICAL_PATH = "/sfp-edge";
const DEFAULT_INFISICAL_ENVIRONMENT = "prod";

export class CredentialsConfigError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "CredentialsConfigError";
  }
}

function required(env: NodeJS.ProcessEnv, name: string): string {
  const value = env[name]?.trim();
  if (!value) throw new CredentialsConfigError(`${name} is required for SFP_CREDENTIALS=${env.SFP_CREDENTIALS ?? "local"}`);
  return value;
}

function infisicalFromEnv(env: NodeJS.ProcessEnv): InfisicalConfig {
  return {
    siteUrl: env.INFISICAL_SITE_URL?.trim() || DEFAULT_INFISICAL_SITE,
    clientId: required(env, "INFISICAL_CLIENT_ID"),
    clientSecret: required(env, "INFISICAL_CLIENT_SECRET"),
    projectId: required(env, "INFISICAL_PROJECT_ID"),
    environment: env.INFISICAL_ENVIRONMENT?.trim() || DEFAULT_INFISICAL_ENVIRONMENT,
    secretPath: env.INFISICAL_SECRET_PATH?.trim() || DEFAULT_INFISICAL_PATH,
  };
}

export function credentialsConfigFromEnv(env: NodeJS.ProcessEnv): CredentialsConfig {
  const provider = env.SFP_CREDENTIALS?.trim() || "local";
  switch (provider) {
    case "local":
      return {
        provider,
        file: env.SFP_LOCAL_CREDENTIALS_FILE?.trim() || DEFAULT_LOCAL_FILE,
        key: required(env, "SFP_LOCAL_CREDENTIALS_KEY"),
      };
    case "infisical":
      return { provider, infisical: infisicalFromEnv(env) };
    case "supabase":
      return {
        provider,
        supabase: {
          url: required(env, "SUPABASE_URL"),
          serviceKey: required(env, "SUPABASE_SERVICE_KEY"),
          ...(env.SUPABASE_TABLE?.trim() ? { table: env.SUPABASE_TABLE.trim() } : {}),
        },
        infisical: infisicalFromEnv(env),
      };
    default:
      throw new CredentialsConfigError(`SFP_CREDENTIALS must be local, infisical or supabase (got ${JSON.stringify(provider)})`);
  }
}

/** The secret values inside a config, for the masker. */
export function configSecrets(config: CredentialsConfig): string[] {
  switch (config.provider) {
    case "local":
      return [config.key];
    case "infisical":
      return [config.infisical.clientSecret];
    case "supabase":
      return [config.supabase.serviceKey, config.infisical.clientSecret];
  }
}

/**
 * How the manager looks orgs up: SFP_CREDENTIALS_DEFAULT_FALLBACK=true lets a task's org missing under
 * its project come from the orgs registered without one (`default`); off unless set, so that a task
 * for an org nobody registered for its project fails (credentials_not_found) instead.
 */
export function credentialsBrokerOptionsFromEnv(env: NodeJS.ProcessEnv): { defaultProjectFallback: boolean } {
  const raw = env.SFP_CREDENTIALS_DEFAULT_FALLBACK?.trim().toLowerCase() ?? "";
  if (raw === "" || raw === "false" || raw === "0") return { defaultProjectFallback: false };
  if (raw === "true" || raw === "1") return { defaultProjectFallback: true };
  throw new CredentialsConfigError(`SFP_CREDENTIALS_DEFAULT_FALLBACK must be true or false (got ${JSON.stringify(env.SFP_CREDENTIALS_DEFAULT_FALLBACK)})`);
}
