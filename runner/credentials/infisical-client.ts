// A thin wrapper over @infisical/sdk: a universal-auth login, then key/value secrets in one folder.
// Both the infisical store (org auth URLs) and the supabase store (its data keys) go through it.
import { InfisicalSDK } from "@infisical/sdk";
import type { InfisicalConfig } from "./config.ts";

export interface InfisicalSecrets {
  get(name: string): Promise<string | null>;
  set(name: string, value: string): Promise<void>;
  /** Creates `name` only if it is missing: false when it already exists (nothing is overwritten). */
  create(name: string, value: string): Promise<boolean>;
  delete(name: string): Promise<boolean>;
  /** Secret names in the configured folder. */
  names(): Promise<string[]>;
  /** The machine identity's access token (for the masker). */
  readonly accessToken: string;
}

/** The SDK reports HTTP failures only in its message: "[URL=…] [Method=…] [StatusCode=404] …". */
function statusOf(err: unknown): number | undefined {
  const m = err instanceof Error ? /\[StatusCode=(\d{3})\]/.exec(err.message) : null;
  return m ? Number(m[1]) : undefined;
}

export async function connectInfisical(config: InfisicalConfig): Promise<InfisicalSecrets> {
  const sdk = new InfisicalSDK({ siteUrl: config.siteUrl });
  try {
    await sdk.auth().universalAuth.login({ clientId: config.clientId, clientSecret: config.clientSecret });
  } catch (err) {
    const status = statusOf(err);
    throw new Error(`Infisical login failed${status ? ` (HTTP ${status})` : ""}: check INFISICAL_CLIENT_ID / INFISICAL_CLIENT_SECRET`);
  }
  const where = { projectId: config.projectId, environment: config.environment, secretPath: config.secretPath };
  const accessToken = sdk.auth().getAccessToken() ?? "";

  return {
    accessToken,
    async get(name) {
      try {
        const secret = await sdk.secrets().getSecret({ ...where, secretName: name, expandSecretReferences: false });
        return secret.secretValue;
      } catch (err) {
        if (statusOf(err) === 404) return null;
        throw err;
      }
    },
    async set(name, value) {
      try {
        await sdk.secrets().updateSecret(name, { ...where, secretValue: value });
      } catch (err) {
        if (statusOf(err) !== 404) throw err;
        await sdk.secrets().createSecret(name, { ...where, secretValue: value });
      }
    },
    async create(name, value) {
      try {
        await sdk.secrets().createSecret(name, { ...where, secretValue: value });
        return true;
      } catch (err) {
        // Infisical answers a create of an existing secret with 400 "Secret already exist".
        if (statusOf(err) === 400 && err instanceof Error && /already exist/i.test(err.message)) return false;
        throw err;
      }
    },
    async delete(name) {
      try {
        await sdk.secrets().deleteSecret(name, where);
        return true;
      } catch (err) {
        if (statusOf(err) === 404) return false;
        throw err;
      }
    },
    async names() {
      const res = await sdk.secrets().listSecrets({ ...where, expandSecretReferences: false, viewSecretValue: false });
      return res.secrets.map((s) => s.secretKey);
    },
  };
}
