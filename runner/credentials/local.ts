// The laptop default: one JSON file, each org's auth URL sealed with AES-256-GCM under a key derived
// (scrypt) from the configured passphrase. The file is written 0600, atomically (temp file + rename).
import { chmod, mkdir, readFile, rename, writeFile } from "node:fs/promises";
import { dirname } from "node:path";
import { formatSfdxAuthUrl, parseSfdxAuthUrl, type OrgAuth } from "./auth-url.ts";
import { deriveKey, newSalt, open, seal, type Sealed } from "./crypto.ts";
import { parseRepoCredential, repoKeyOf, serializeRepoCredential, type RepoRef } from "./repo.ts";
import { DEFAULT_PROJECT, projectOf, type CredentialStore, type OrgRef } from "./store.ts";

const FILE_VERSION = 1;
const FILE_MODE = 0o600;

interface LocalFile {
  version: number;
  /** base64 scrypt salt */
  salt: string;
  orgs: Record<string, Sealed & { updatedAt: string }>;
  /** Repository tokens by repoKeyOf (added later: files written before have none). */
  repos?: Record<string, Sealed & { updatedAt: string }>;
}

const keyOf = (ref: OrgRef) => `${projectOf(ref)}/${ref.alias}`;
/** A repository's entry is bound to its own name, apart from any org's. */
const repoAad = (ref: RepoRef) => `repo:${repoKeyOf(ref)}`;

export function createLocalStore(config: { file: string; key: string }): CredentialStore {
  if (!config.key) throw new Error("the local credential store needs a key (SFP_LOCAL_CREDENTIALS_KEY)");
  let passphrase: string | null = config.key;
  let cachedKey: { salt: string; key: Buffer } | null = null;

  const keyFor = async (salt: string): Promise<Buffer> => {
    if (!passphrase) throw new Error("the local credential store is closed");
    if (cachedKey?.salt !== salt) cachedKey = { salt, key: await deriveKey(passphrase, Buffer.from(salt, "base64")) };
    return cachedKey.key;
  };

  const load = async (): Promise<LocalFile | null> => {
    let text: string;
    try {
      text = await readFile(config.file, "utf8");
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === "ENOENT") return null;
      throw err;
    }
    const parsed = JSON.parse(text) as LocalFile;
    if (parsed.version !== FILE_VERSION) throw new Error(`unsupported credentials file version ${parsed.version}`);
    return parsed;
  };

  const save = async (file: LocalFile) => {
    await mkdir(dirname(config.file), { recursive: true, mode: 0o700 });
    const tmp = `${config.file}.${process.pid}.tmp`;
    await writeFile(tmp, JSON.stringify(file, null, 2), { mode: FILE_MODE });
    await chmod(tmp, FILE_MODE);
    await rename(tmp, config.file);
  };

  return {
    async get(ref) {
      const file = await load();
      const entry = file?.orgs[keyOf(ref)];
      if (!file || !entry) return null;
      return parseSfdxAuthUrl(open(await keyFor(file.salt), entry, keyOf(ref), `the credentials of ${ref.alias}`));
    },
    async put(ref, auth: OrgAuth) {
      const file = (await load()) ?? { version: FILE_VERSION, salt: newSalt().toString("base64"), orgs: {} };
      file.orgs[keyOf(ref)] = { ...seal(await keyFor(file.salt), formatSfdxAuthUrl(auth), keyOf(ref)), updatedAt: new Date().toISOString() };
      await save(file);
    },
    async delete(ref) {
      const file = await load();
      if (!file?.orgs[keyOf(ref)]) return false;
      delete file.orgs[keyOf(ref)];
      await save(file);
      return true;
    },
    async list(project = DEFAULT_PROJECT) {
      const file = await load();
      const prefix = `${project}/`;
      return Object.keys(file?.orgs ?? {})
        .filter((k) => k.startsWith(prefix))
        .map((k) => k.slice(prefix.length))
        .sort();
    },
    async getRepo(ref) {
      const file = await load();
      const entry = file?.repos?.[repoKeyOf(ref)];
      if (!file || !entry) return null;
      return parseRepoCredential(ref, open(await keyFor(file.salt), entry, repoAad(ref), `the token of ${repoKeyOf(ref)}`));
    },
    async putRepo(ref, cred) {
      const file = (await load()) ?? { version: FILE_VERSION, salt: newSalt().toString("base64"), orgs: {} };
      const sealed = seal(await keyFor(file.salt), serializeRepoCredential(ref, cred), repoAad(ref));
      file.repos = { ...file.repos, [repoKeyOf(ref)]: { ...sealed, updatedAt: new Date().toISOString() } };
      await save(file);
    },
    async deleteRepo(ref) {
      const file = await load();
      if (!file?.repos?.[repoKeyOf(ref)]) return false;
      delete file.repos[repoKeyOf(ref)];
      await save(file);
      return true;
    },
    async listRepos(project = DEFAULT_PROJECT) {
      const file = await load();
      const prefix = `${project}/`;
      return Object.keys(file?.repos ?? {})
        .filter((k) => k.startsWith(prefix))
        .map((k) => k.slice(prefix.length))
        .sort();
    },
    secrets() {
      return passphrase ? [passphrase, ...(cachedKey ? [cachedKey.key.toString("base64"), cachedKey.key.toString("hex")] : [])] : [];
    },
    async close() {
      cachedKey?.key.fill(0);
      cachedKey = null;
      passphrase = null;
    },
  };
}
