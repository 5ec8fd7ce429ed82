// Org auth URLs as Infisical secrets, one per org, in the configured folder. Secret names allow only
// [A-Za-z0-9_] safely, so project and alias are encoded: any other character becomes _HH (hex), and
// a double underscore (which the encoding never produces) separates them.
import { formatSfdxAuthUrl, parseSfdxAuthUrl, type OrgAuth } from "./auth-url.ts";
import type { InfisicalConfig } from "./config.ts";
import { connectInfisical, type InfisicalSecrets } from "./infisical-client.ts";
import { DEFAULT_PROJECT, projectOf, type CredentialStore, type OrgRef } from "./store.ts";

const PREFIX = "SFP_ORG__";

function encode(s: string): string {
  return s.replace(/[^A-Za-z0-9]/g, (c) => `_${c.charCodeAt(0).toString(16).toUpperCase().padStart(2, "0")}`);
}
function decode(s: string): string {
  return s.replace(/_([0-9A-F]{2})/g, (_, hex: string) => String.fromCharCode(parseInt(hex, 16)));
}

export function infisicalSecretName(ref: OrgRef): string {
  return `${PREFIX}${encode(projectOf(ref))}__${encode(ref.alias)}`;
}

export function createInfisicalStore(config: InfisicalConfig): CredentialStore {
  let client: Promise<InfisicalSecrets> | null = null;
  let connected: InfisicalSecrets | null = null;
  const secrets = () => {
    client ??= connectInfisical(config).then((c) => (connected = c));
    return client;
  };

  return {
    async get(ref) {
      const value = await (await secrets()).get(infisicalSecretName(ref));
      return value === null ? null : parseSfdxAuthUrl(value);
    },
    async put(ref, auth: OrgAuth) {
      await (await secrets()).set(infisicalSecretName(ref), formatSfdxAuthUrl(auth));
    },
    async delete(ref) {
      return (await secrets()).delete(infisicalSecretName(ref));
    },
    async list(project = DEFAULT_PROJECT) {
      const prefix = `${PREFIX}${encode(project)}__`;
      return (await (await secrets()).names())
        .filter((n) => n.startsWith(prefix))
        .map((n) => decode(n.slice(prefix.length)))
        .sort();
    },
    secrets() {
      return [config.clientSecret, connected?.accessToken ?? ""].filter(Boolean);
    },
    async close() {
      client = null;
      connected = null;
    },
  };
}
