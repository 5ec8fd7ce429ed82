// Where the worker finds org credentials. The manager reads this from its own configuration and hands
// it to each worker over IPC; it is never put in a worker's argv or environment.
export type CredentialsConfig =
  | { provider: "local"; file: string; key: string }
  | { provider: "infisical"; infisical: InfisicalConfig }
  | { provider: "supabase"; supabase: { url: string; serviceKey: string; table?: string }; infisical: InfisicalConfig };

export interface InfisicalConfig {
  siteUrl: string;
  clientId: string;
  clientSecret: string;
  projectId: string;
  environment: string;
  /** Folder holding this runner's secrets, e.g. "/sfp-edge". */
  secretPath: string;
}
