// Org auth URLs as Infisical secrets, one per org, in the configured folder. Secret names allow only
// [A-Za-z0-9_] safely, so project and alias are encoded: any other character becomes _HH (hex), and
// a double underscore (which the encoding never produces) separates them.
import { formatSfdxAuthUrl, parseSfdxAuthUrl, type OrgAuth } from "./auth-url.ts";
import type { InfisicalConfig } from "./config.ts";
import { connectInfisical, type InfisicalSecrets } from "./infisical-client.ts";
import { parseRepoCredential, repoDigest, repoProjectOf, serializeRepoCredential, type RepoRef } from "./repo.ts";
import { DEFAULT_PROJECT, projectOf, type CredentialStore, type OrgRef } from "./store.ts";

const PREFIX = "SFP_ORG__";
/** Repository tokens: SFP_REPO__<project>__<sha256(url)[:32]>; the value (JSON) names its URL. */
const REPO_PREFIX = "SFP_REPO__";

function encode(s: string): string {
  return s.replace(/[^A-Za-z0-9]/g, (c) => `_${c.charCodeAt(0).toString(16).toUpperCase().padStart(2, "0")}`);
}
function decode(s: string): string {
  return s.replace(/_([0-9A-F]{2})/g, (_, hex: string) => String.fromCharCode(parseInt(hex, 16)));
}

export function infisicalSecretName(ref: OrgRef): string {
  return `${PREFIX}${encode(projectOf(ref))}__${encode(ref.alias)}`;
}

export function infisicalRepoSecretName(ref: RepoRef): string {
  return `${REPO_PREFIX}${encode(repoProjectOf(ref))}__${repoDigest(ref)}`;
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
    async getRepo(ref) {
      const value = await (await secrets()).get(infisicalRepoSecretName(ref));
      return value === null ? null : parseRepoCredential(ref, value);
    },
    async putRepo(ref, cred) {
      await (await secrets()).set(infisicalRepoSecretName(ref), serializeRepoCredential(ref, cred));
    },
    async deleteRepo(ref) {
      return (await secrets()).delete(infisicalRepoSecretName(ref));
    },
    async listRepos(project = DEFAULT_PROJECT) {
      const client = await secrets();
      const prefix = `${REPO_PREFIX}${encode(project)}__`;
      const urls: string[] = [];
      // Names hold only a digest: the URL is read from each value (a listing is rare: the CLI's).
      for (const name of (await client.names()).filter((n) => n.startsWith(prefix))) {
        const value = await client.get(name);
        const url = value === null ? undefined : (JSON.parse(value) as { url?: unknown }).url;
        if (typeof url === "string") urls.push(url);
      }
      return urls.sort();
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
