// Commands that talk to the edge about the project rather than one task: login, tokens, org
// metadata, webhook sources and runner registration tokens.
import { readFile } from "node:fs/promises";
import { EdgeClient } from "../../protocol/client.ts";
import { ROLES, type Org, type TokenInfo } from "../../protocol/index.ts";
import { ORG_SETTING_FLAGS, ORG_SETTINGS_USAGE, orgSettingsBody } from "./org-settings.ts";
import type { WebhookSource } from "../../protocol/webhook.ts";
import { configDir, writeConfig } from "../config.ts";
import { connect, projectPath } from "../connect.ts";
import { CliError, EXIT, line, parse, printJson, UsageError, type Globals, type Io } from "../io.ts";
import { integer } from "./task-template.ts";

export const PROJECT_USAGE = {
  login: "sfp-edge login --url <edge URL> --project <project id> (--token <token> | --token-stdin)",
  tokenCreate: `sfp-edge token create --name <name> --role ${ROLES.join("|")} [--expires-in-days <n>]`,
  tokenRevoke: "sfp-edge token revoke <token id>",
  tokenList: "sfp-edge token list",
  orgPut: `sfp-edge org put <alias> [--pool <pool>] [--org-id <00D…>] [--instance-url <https://…>] [--production] ${ORG_SETTINGS_USAGE}`,
  orgList: "sfp-edge org list",
  webhookSourcePut: "sfp-edge webhook-source put <name> --kind github|gitlab|standard|salesforce [--secret-file <file>] [--org-id <00D…>] --rules-file <file>",
  runnerToken: "sfp-edge runner token --pool <pool> [--labels a,b] [--uses <n>] [--expires-in-seconds <n>]",
} as const;

/** Stores URL, token and project (0600) after checking that the token can read the project. */
export async function login(io: Io, globals: Globals, argv: string[]): Promise<number> {
  const { values, positionals } = parse(
    argv,
    { url: { type: "string" }, token: { type: "string" }, "token-stdin": { type: "boolean" }, project: { type: "string" } },
    PROJECT_USAGE.login,
  );
  if (positionals.length) throw new UsageError(`unexpected argument ${positionals[0]}`, PROJECT_USAGE.login);
  if (!values.url || !/^https?:\/\/[^/]+/.test(values.url)) throw new UsageError("--url must be the edge's http(s) URL", PROJECT_USAGE.login);
  if (!values.project) throw new UsageError("--project is required (tokens are opaque: the CLI cannot learn it)", PROJECT_USAGE.login);
  const token = values["token-stdin"] ? (await io.readStdin()).trim() : values.token;
  if (!token) throw new UsageError("a token is required: --token <token> or --token-stdin", PROJECT_USAGE.login);
  const url = values.url.replace(/\/+$/, "");
  const project = values.project;
  // Any role may read the task list, so this proves the URL, the token and the project in one call.
  await new EdgeClient(url, token).request("GET", `/v1/projects/${encodeURIComponent(project)}/tasks?limit=1`);
  const file = await writeConfig(configDir(io.env, globals.configDir), { url, token, project });
  if (globals.json) printJson(io, { url, project, config: file });
  else line(io, `logged in to ${url} (project ${project}); saved to ${file}`);
  return EXIT.ok;
}

export async function tokenCreate(io: Io, globals: Globals, argv: string[]): Promise<number> {
  const { values, positionals } = parse(
    argv,
    { name: { type: "string" }, role: { type: "string" }, "expires-in-days": { type: "string" } },
    PROJECT_USAGE.tokenCreate,
  );
  if (positionals.length) throw new UsageError(`unexpected argument ${positionals[0]}`, PROJECT_USAGE.tokenCreate);
  if (!values.name) throw new UsageError("--name is required", PROJECT_USAGE.tokenCreate);
  if (!values.role || !(ROLES as readonly string[]).includes(values.role))
    throw new UsageError(`--role must be one of ${ROLES.join(", ")}`, PROJECT_USAGE.tokenCreate);
  const body: Record<string, unknown> = { name: values.name, role: values.role };
  if (values["expires-in-days"] !== undefined) body.expiresInDays = integer(values["expires-in-days"], "--expires-in-days", PROJECT_USAGE.tokenCreate);
  const s = await connect(io, globals);
  const res = await s.client.request<{ id: string; token: string; role: string; expiresAt: string | null }>("POST", projectPath(s, "/tokens"), { body });
  if (globals.json) printJson(io, res.body);
  else {
    // The one place the CLI prints a token: the edge shows it once and keeps only its hash.
    io.stderr.write(`created ${res.body.id} (${res.body.role}${res.body.expiresAt ? `, expires ${res.body.expiresAt}` : ""}); the token is shown once:\n`);
    line(io, res.body.token);
  }
  return EXIT.ok;
}

export async function tokenList(io: Io, globals: Globals, argv: string[]): Promise<number> {
  parse(argv, {}, PROJECT_USAGE.tokenList);
  const s = await connect(io, globals);
  const { body } = await s.client.request<{ tokens: TokenInfo[] }>("GET", projectPath(s, "/tokens"));
  if (globals.json) printJson(io, body);
  else
    for (const t of body.tokens) {
      const state = t.revokedAt ? `revoked ${t.revokedAt}` : t.expiresAt ? `expires ${t.expiresAt}` : "active";
      line(io, `${t.id}  ${t.role.padEnd(6)}  ${t.name}  (${state})`);
    }
  return EXIT.ok;
}

export async function tokenRevoke(io: Io, globals: Globals, argv: string[]): Promise<number> {
  const { positionals } = parse(argv, {}, PROJECT_USAGE.tokenRevoke);
  if (positionals.length !== 1) throw new UsageError("expected one token id", PROJECT_USAGE.tokenRevoke);
  const s = await connect(io, globals);
  await s.client.request("DELETE", projectPath(s, `/tokens/${encodeURIComponent(positionals[0])}`));
  if (globals.json) printJson(io, { revoked: positionals[0] });
  else line(io, `revoked ${positionals[0]}`);
  return EXIT.ok;
}

export async function orgPut(io: Io, globals: Globals, argv: string[]): Promise<number> {
  const { values, positionals } = parse(
    argv,
    { pool: { type: "string" }, "org-id": { type: "string" }, "instance-url": { type: "string" }, production: { type: "boolean" }, ...ORG_SETTING_FLAGS },
    PROJECT_USAGE.orgPut,
  );
  if (positionals.length !== 1) throw new UsageError("expected one org alias", PROJECT_USAGE.orgPut);
  const body: Record<string, unknown> = orgSettingsBody(values, PROJECT_USAGE.orgPut);
  if (values.pool !== undefined) body.pool = values.pool;
  if (values["org-id"] !== undefined) body.orgId = values["org-id"];
  if (values["instance-url"] !== undefined) body.instanceUrl = values["instance-url"];
  if (values.production !== undefined) body.isProduction = values.production;
  const s = await connect(io, globals);
  const { body: answer } = await s.client.request<{ org: Org }>("PUT", projectPath(s, `/orgs/${encodeURIComponent(positionals[0])}`), { body });
  if (globals.json) printJson(io, answer);
  else
    line(
      io,
      `org ${answer.org.alias}: pool ${answer.org.pool}${answer.org.instanceUrl ? `, ${answer.org.instanceUrl}` : ""}${answer.org.isProduction ? ", production" : ""}${answer.org.protected ? ", protected" : ""}, ${answer.org.maxConcurrentDeploys} deploy(s) at a time`,
    );
  return EXIT.ok;
}

export async function orgList(io: Io, globals: Globals, argv: string[]): Promise<number> {
  parse(argv, {}, PROJECT_USAGE.orgList);
  const s = await connect(io, globals);
  const { body } = await s.client.request<{ orgs: Org[] }>("GET", projectPath(s, "/orgs"));
  if (globals.json) printJson(io, body);
  else if (!body.orgs.length) line(io, "no orgs");
  else for (const o of body.orgs) line(io, `${o.alias}  pool=${o.pool}${o.orgId ? `  ${o.orgId}` : ""}${o.instanceUrl ? `  ${o.instanceUrl}` : ""}`);
  return EXIT.ok;
}

/** Sends the source as the files describe it; the edge validates it (protocol/webhook.ts). */
export async function webhookSourcePut(io: Io, globals: Globals, argv: string[]): Promise<number> {
  const { values, positionals } = parse(
    argv,
    { kind: { type: "string" }, "secret-file": { type: "string" }, "rules-file": { type: "string" }, "org-id": { type: "string" } },
    PROJECT_USAGE.webhookSourcePut,
  );
  if (positionals.length !== 1) throw new UsageError("expected one source name", PROJECT_USAGE.webhookSourcePut);
  if (!values.kind) throw new UsageError("--kind is required", PROJECT_USAGE.webhookSourcePut);
  if (!values["rules-file"]) throw new UsageError("--rules-file is required", PROJECT_USAGE.webhookSourcePut);
  const rulesText = await readText(values["rules-file"], "rules file");
  let rules: unknown;
  try {
    rules = JSON.parse(rulesText);
  } catch {
    throw new CliError(`the rules file ${values["rules-file"]} is not valid JSON`);
  }
  // A file may hold the rules array itself or {"rules": [...]}.
  if (rules && typeof rules === "object" && !Array.isArray(rules) && "rules" in rules) rules = rules.rules;
  const body: Record<string, unknown> = { kind: values.kind, rules };
  if (values["secret-file"]) body.secret = (await readText(values["secret-file"], "secret file")).trim();
  if (values["org-id"]) body.orgId = values["org-id"];
  const s = await connect(io, globals);
  const { body: answer } = await s.client.request<{ source: WebhookSource }>("PUT", projectPath(s, `/webhook-sources/${encodeURIComponent(positionals[0])}`), {
    body,
  });
  if (globals.json) printJson(io, answer);
  else {
    line(io, `webhook source ${positionals[0]} (${answer.source.kind}, ${answer.source.rules.length} rules)`);
    line(io, `deliveries go to ${s.url}${answer.source.url}`);
  }
  return EXIT.ok;
}

export async function runnerToken(io: Io, globals: Globals, argv: string[]): Promise<number> {
  const { values, positionals } = parse(
    argv,
    { pool: { type: "string" }, labels: { type: "string" }, uses: { type: "string" }, "expires-in-seconds": { type: "string" } },
    PROJECT_USAGE.runnerToken,
  );
  if (positionals.length) throw new UsageError(`unexpected argument ${positionals[0]}`, PROJECT_USAGE.runnerToken);
  if (!values.pool) throw new UsageError("--pool is required", PROJECT_USAGE.runnerToken);
  const s = await connect(io, globals);
  const created = await registrationToken(s.client, s.project, {
    pool: values.pool,
    labels: values.labels,
    uses: values.uses === undefined ? undefined : integer(values.uses, "--uses", PROJECT_USAGE.runnerToken),
    expiresInSeconds:
      values["expires-in-seconds"] === undefined ? undefined : integer(values["expires-in-seconds"], "--expires-in-seconds", PROJECT_USAGE.runnerToken),
  });
  if (globals.json) printJson(io, created);
  else {
    io.stderr.write(`registration token for pool ${values.pool} (expires ${created.expiresAt}); shown once:\n`);
    line(io, created.token);
  }
  return EXIT.ok;
}

export async function registrationToken(
  client: EdgeClient,
  project: string,
  opts: { pool: string; labels?: string; uses?: number; expiresInSeconds?: number },
): Promise<{ token: string; expiresAt: string }> {
  const body: Record<string, unknown> = { pool: opts.pool };
  const labels = splitList(opts.labels);
  if (labels.length) body.labels = labels;
  if (opts.uses !== undefined) body.uses = opts.uses;
  if (opts.expiresInSeconds !== undefined) body.expiresInSeconds = opts.expiresInSeconds;
  const { body: answer } = await client.request<{ token: string; expiresAt: string }>(
    "POST",
    `/v1/projects/${encodeURIComponent(project)}/registration-tokens`,
    { body },
  );
  return answer;
}

export function splitList(value: string | undefined): string[] {
  return (value ?? "")
    .split(",")
    .map((s) => s.trim())
    .filter(Boolean);
}

export async function readText(file: string, what: string): Promise<string> {
  try {
    return await readFile(file, "utf8");
  } catch (err) {
    throw new CliError(`cannot read the ${what} ${file}: ${err instanceof Error && "code" in err ? String(err.code) : String(err)}`);
  }
}
