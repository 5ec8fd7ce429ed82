// Turns the stored login (and its environment overrides) into a client for the edge.
import { EdgeClient, EdgeError, errorFromAnswer } from "../protocol/client.ts";
import { configDir, readConfig, withEnv } from "./config.ts";
import { CliError, type Globals, type Io } from "./io.ts";

export interface Session {
  client: EdgeClient;
  project: string;
  url: string;
}

export async function connect(io: Io, globals: Globals): Promise<Session> {
  const settings = withEnv(await readConfig(configDir(io.env, globals.configDir)), io.env);
  const { url, token, project } = settings;
  if (!url || !token || !project) {
    const missing = Object.entries({ url, token, project }).flatMap(([k, v]) => (v ? [] : [k]));
    throw new CliError(`not logged in (no ${missing.join(", ")}): run sfp-edge login --url <edge URL> --token <token> --project <project id>`);
  }
  return { client: new EdgeClient(url, token), project, url };
}

export function projectPath(s: Session, rest = ""): string {
  return `/v1/projects/${encodeURIComponent(s.project)}${rest}`;
}

/**
 * GET for a text answer (the task log) with a Range header. EdgeClient parses every body as JSON
 * when it can, which would mangle a log whose text happens to be JSON, so this reads the text itself
 * and turns errors into the same EdgeError.
 */
export async function getText(
  client: EdgeClient,
  path: string,
  headers: Record<string, string>,
  signal?: AbortSignal,
): Promise<{ status: number; text: string; headers: Headers }> {
  const all: Record<string, string> = { accept: "text/plain", ...headers };
  if (client.token) all.authorization = `Bearer ${client.token}`;
  let res: Response;
  try {
    res = await fetch(client.baseUrl + path, { headers: all, signal });
  } catch (err) {
    if (signal?.aborted) throw err;
    throw new EdgeError(0, "network", `cannot reach ${client.baseUrl}: ${err instanceof Error ? err.message : String(err)}`);
  }
  const text = await res.text();
  if (res.ok) return { status: res.status, text, headers: res.headers };
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch {
    parsed = undefined;
  }
  throw errorFromAnswer(res.status, res.headers, parsed, `HTTP ${res.status} from GET ${path}`);
}
