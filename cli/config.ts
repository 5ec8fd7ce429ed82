// Where the CLI keeps its login (edge URL, token, project) and how the environment overrides it.
// The file holds a bearer token, so it is written 0600 inside a 0700 directory, atomically.
import { chmod, mkdir, readFile, rename, writeFile } from "node:fs/promises";
import { homedir } from "node:os";
import { join, resolve } from "node:path";

export interface CliConfig {
  url: string;
  token: string;
  project: string;
}

export const CONFIG_FILE = "config.json";

/** `--config-dir`, else $XDG_CONFIG_HOME/sfp-edge, else ~/.config/sfp-edge. */
export function configDir(env: NodeJS.ProcessEnv, override?: string): string {
  if (override) return resolve(override);
  const xdg = env.XDG_CONFIG_HOME?.trim();
  const base = xdg ? xdg : join(env.HOME?.trim() || homedir(), ".config");
  return join(base, "sfp-edge");
}

export async function readConfig(dir: string): Promise<Partial<CliConfig>> {
  let text: string;
  try {
    text = await readFile(join(dir, CONFIG_FILE), "utf8");
  } catch (err) {
    if (isNotFound(err)) return {};
    throw err;
  }
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch {
    throw new Error(`${join(dir, CONFIG_FILE)} is not valid JSON; run sfp-edge login again`);
  }
  const out: Partial<CliConfig> = {};
  if (parsed && typeof parsed === "object") {
    for (const key of ["url", "token", "project"] as const) {
      const value: unknown = (parsed as Record<string, unknown>)[key];
      if (typeof value === "string" && value) out[key] = value;
    }
  }
  return out;
}

export async function writeConfig(dir: string, config: CliConfig): Promise<string> {
  await mkdir(dir, { recursive: true, mode: 0o700 });
  const file = join(dir, CONFIG_FILE);
  const tmp = `${file}.${process.pid}.tmp`;
  // Created 0600 from the first byte (never briefly world-readable), then renamed over the old file.
  await writeFile(tmp, `${JSON.stringify(config, null, 2)}\n`, { mode: 0o600, flag: "w" });
  await chmod(tmp, 0o600);
  await rename(tmp, file);
  return file;
}

/** The stored login with SFP_EDGE_URL / SFP_EDGE_TOKEN / SFP_EDGE_PROJECT taking precedence. */
export function withEnv(stored: Partial<CliConfig>, env: NodeJS.ProcessEnv): Partial<CliConfig> {
  return {
    url: env.SFP_EDGE_URL?.trim() || stored.url,
    token: env.SFP_EDGE_TOKEN?.trim() || stored.token,
    project: env.SFP_EDGE_PROJECT?.trim() || stored.project,
  };
}

function isNotFound(err: unknown): boolean {
  return err instanceof Error && "code" in err && err.code === "ENOENT";
}
