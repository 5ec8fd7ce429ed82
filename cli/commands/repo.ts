// `sfp-edge repo register`: stores a repository's HTTPS token in this machine's credential store (the
// runners' store, beside org credentials), for deploys whose payload names `source`. The edge never
// sees it; a worker gets it only for a task that names that repository.
import { configDir, readConfig, withEnv } from "../config.ts";
import { EXIT, line, parse, printJson, UsageError, type Globals, type Io } from "../io.ts";
import { storeCredential } from "./local.ts";
import { readText } from "./project.ts";

export const REPO_USAGE = {
  register: "sfp-edge repo register --url <https repository URL> --token-file <file|-> [--username <user>] [--project <id>]",
} as const;

export async function repoRegister(io: Io, globals: Globals, argv: string[]): Promise<number> {
  const { values, positionals } = parse(
    argv,
    { url: { type: "string" }, "token-file": { type: "string" }, username: { type: "string" }, project: { type: "string" } },
    REPO_USAGE.register,
  );
  if (positionals.length) throw new UsageError(`unexpected argument ${positionals[0]}`, REPO_USAGE.register);
  if (!values.url) throw new UsageError("--url is required", REPO_USAGE.register);
  const file = values["token-file"];
  if (!file) throw new UsageError("--token-file is required (the token is a secret: never pass it as an argument)", REPO_USAGE.register);
  const token = (file === "-" ? await io.readStdin() : await readText(file, "token file")).trim();
  const stored = withEnv(await readConfig(configDir(io.env, globals.configDir)), io.env);
  const project = values.project ?? stored.project;
  const registered = await storeCredential<{ url: string; project: string; username: string }>(io.env, {
    kind: "repo",
    url: values.url,
    token,
    ...(values.username ? { username: values.username } : {}),
    ...(project ? { project } : {}),
  });
  if (globals.json) printJson(io, registered);
  else line(io, `stored the token of ${registered.url} (user ${registered.username}) for project ${registered.project}`);
  return EXIT.ok;
}
