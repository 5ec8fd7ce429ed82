// The one interface every credential provider implements. An org is named by (project, alias): a
// runner pool serves one project, and `DEFAULT_PROJECT` holds orgs registered without one (a laptop).
import type { OrgAuth } from "./auth-url.ts";
import type { RepoCredential, RepoRef } from "./repo.ts";

export const DEFAULT_PROJECT = "default";

export interface OrgRef {
  project?: string;
  alias: string;
}

export interface CredentialStore {
  get(ref: OrgRef): Promise<OrgAuth | null>;
  put(ref: OrgRef, auth: OrgAuth): Promise<void>;
  delete(ref: OrgRef): Promise<boolean>;
  /** Aliases stored for a project (DEFAULT_PROJECT when omitted), sorted. */
  list(project?: string): Promise<string[]>;
  /** A repository's token (runner/credentials/repo.ts), under the task's project; null when none. */
  getRepo(ref: RepoRef): Promise<RepoCredential | null>;
  putRepo(ref: RepoRef, cred: RepoCredential): Promise<void>;
  deleteRepo(ref: RepoRef): Promise<boolean>;
  /** Normalized URLs of the repositories stored for a project (DEFAULT_PROJECT when omitted), sorted. */
  listRepos(project?: string): Promise<string[]>;
  /** Every secret this store itself holds (keys, service tokens), so the worker can mask them. */
  secrets(): string[];
  /** Drops connections and forgets keys. */
  close(): Promise<void>;
}

export function projectOf(ref: OrgRef): string {
  return ref.project ?? DEFAULT_PROJECT;
}
