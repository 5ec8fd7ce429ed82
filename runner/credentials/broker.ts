// The manager's side of the credential hand-off: the store and its own secrets (client secret, service
// key, local key) stay in the manager; a worker gets the one org its task names, over IPC, and nothing
// else. Each lookup opens the store and closes it again, as a short-lived worker used to.
import { createMasker } from "../mask.ts";
import { orgAuthSecrets, type OrgAuth } from "./auth-url.ts";
import type { CredentialsConfig } from "./config.ts";
import { configSecrets } from "./env.ts";
import { createCredentialStore, loadOrgAuth, loadRepoCredential } from "./index.ts";
import type { RepoCredential } from "./repo.ts";
import { DEFAULT_PROJECT } from "./store.ts";

export type CredentialErrorCode = "credentials_not_found" | "credentials_unavailable";

/** A lookup that failed, with the task error code it becomes; the message holds no secret. */
export class CredentialError extends Error {
  readonly code: CredentialErrorCode;
  constructor(code: CredentialErrorCode, message: string) {
    super(message);
    this.name = "CredentialError";
    this.code = code;
  }
}

/** One org: a task's project and alias. */
export interface TaskOrg {
  project: string;
  alias: string;
}

export interface CredentialBroker {
  /** The org's auth and every secret to mask along with it; a CredentialError when there is none. */
  authFor(org: TaskOrg): Promise<{ auth: OrgAuth; secrets: string[] }>;
  /** A repository's token under the task's project; null when none is registered (a public repository). */
  repoFor(repo: { project: string; url: string }): Promise<RepoCredential | null>;
}

export interface BrokerOptions {
  /** SFP_CREDENTIALS_DEFAULT_FALLBACK (off by default): an org missing under the task's project may come from `default`. */
  defaultProjectFallback?: boolean;
}

export function storeBroker(config: CredentialsConfig, opts: BrokerOptions = {}): CredentialBroker {
  return {
    async authFor(org) {
      const store = createCredentialStore(config);
      try {
        let auth: OrgAuth | null;
        try {
          auth = await loadOrgAuth(store, org, { defaultProjectFallback: opts.defaultProjectFallback === true });
        } catch (err) {
          // The store's error may quote what it holds (a key, a token): masked before it goes anywhere.
          const masker = createMasker([...configSecrets(config), ...store.secrets()]);
          const reason = masker.mask(err instanceof Error ? err.message : String(err));
          throw new CredentialError("credentials_unavailable", `cannot read the credentials of ${org.alias} (${config.provider}): ${reason}`);
        }
        if (!auth) {
          // Say why when the org exists without a project but the fallback is off (a lookup more, no secret).
          const onlyDefault =
            !opts.defaultProjectFallback && org.project !== DEFAULT_PROJECT && (await store.get({ alias: org.alias }).catch(() => null)) !== null;
          throw notFound(org, config.provider, opts, onlyDefault);
        }
        return { auth, secrets: orgAuthSecrets(auth) };
      } finally {
        await store.close();
      }
    },
    async repoFor(repo) {
      const store = createCredentialStore(config);
      try {
        return await loadRepoCredential(store, repo, { defaultProjectFallback: opts.defaultProjectFallback === true });
      } catch (err) {
        const masker = createMasker([...configSecrets(config), ...store.secrets()]);
        const reason = masker.mask(err instanceof Error ? err.message : String(err));
        throw new CredentialError("credentials_unavailable", `cannot read the token of ${repo.url} (${config.provider}): ${reason}`);
      } finally {
        await store.close();
      }
    },
  };
}

function notFound(org: TaskOrg, provider: string, opts: BrokerOptions, onlyDefault: boolean): CredentialError {
  const fallback = opts.defaultProjectFallback && org.project !== DEFAULT_PROJECT ? ` (nor under project ${DEFAULT_PROJECT})` : "";
  const why = onlyDefault
    ? `; it is registered without a project, which tasks of project ${org.project} use only when the runner sets SFP_CREDENTIALS_DEFAULT_FALLBACK=true`
    : "";
  return new CredentialError(
    "credentials_not_found",
    `no credentials for org "${org.alias}" of project ${org.project}${fallback} in the ${provider} store${why}; run: sfp-edge org register --alias ${org.alias} --project ${org.project} --sfdx-auth-url-file <file>`,
  );
}
