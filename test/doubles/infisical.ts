// The Infisical endpoints @infisical/sdk calls here, with in-memory state: universal-auth login and
// the raw secrets API (list, get, create, update, delete). One machine identity, member of one project.
import { randomBytes, randomUUID } from "node:crypto";
import { close, listen, sendJson, type RecordedRequest } from "./http.ts";
import type { InfisicalConfig } from "../../runner/credentials/config.ts";

export interface InfisicalDouble {
  url: string;
  clientId: string;
  clientSecret: string;
  projectId: string;
  environment: string;
  requests: RecordedRequest[];
  /** Reads a stored secret value directly (test assertions). */
  peek(name: string, secretPath?: string): string | undefined;
  /** Writes a secret directly, as an operator would in the dashboard. */
  seed(name: string, value: string, secretPath?: string): void;
  /** Access tokens issued so far (to check that none leaks). */
  issuedTokens: string[];
  /**
   * Holds the next `n` list requests until all `n` have arrived, then answers them together: clients
   * racing through "list, then create if missing" all see the same (empty) folder.
   */
  holdLists(n: number): void;
  /** The runner's settings for reaching this double with its machine identity. */
  config(secretPath?: string): InfisicalConfig;
  close(): Promise<void>;
}

interface StoredSecret {
  id: string;
  secretKey: string;
  secretValue: string;
  secretPath: string;
  environment: string;
  version: number;
  createdAt: string;
  updatedAt: string;
}

const TOKEN_TTL_SECONDS = 7200;

export async function startInfisical(opts: { environment?: string } = {}): Promise<InfisicalDouble> {
  const clientId = randomUUID();
  const clientSecret = randomBytes(32).toString("hex");
  const projectId = randomUUID();
  const environment = opts.environment ?? "prod";
  const tokens = new Set<string>();
  const issuedTokens: string[] = [];
  const store = new Map<string, StoredSecret>();
  const requests: RecordedRequest[] = [];
  const keyOf = (env: string, path: string, name: string) => `${env}\u0000${path}\u0000${name}`;
  let held: { wanted: number; waiting: Array<() => void> } | null = null;
  const holdList = (): Promise<void> | undefined => {
    const gate = held;
    if (!gate) return undefined;
    return new Promise<void>((release) => {
      gate.waiting.push(release);
      if (gate.waiting.length < gate.wanted) return;
      held = null;
      for (const go of gate.waiting) go();
    });
  };

  const shape = (s: StoredSecret) => ({
    id: s.id,
    _id: s.id,
    workspace: projectId,
    environment: s.environment,
    version: s.version,
    type: "shared",
    secretKey: s.secretKey,
    secretValue: s.secretValue,
    secretComment: "",
    secretPath: s.secretPath,
    skipMultilineEncoding: false,
    createdAt: s.createdAt,
    updatedAt: s.updatedAt,
    tags: [],
  });
  const problem = (status: number, error: string, message: string) => ({ reqId: `req-${randomUUID()}`, statusCode: status, message, error });

  const { server, url } = await listen(async (req, res, body) => {
    const u = new URL(req.url ?? "/", "http://double");
    const json = body ? (JSON.parse(body) as Record<string, string>) : {};

    if (req.method === "POST" && u.pathname === "/api/v1/auth/universal-auth/login") {
      if (json.clientId !== clientId || json.clientSecret !== clientSecret) {
        return sendJson(res, 401, problem(401, "UnauthorizedError", "Invalid credentials"));
      }
      const accessToken = `inf.${randomBytes(24).toString("base64url")}`;
      tokens.add(accessToken);
      issuedTokens.push(accessToken);
      return sendJson(res, 200, { accessToken, expiresIn: TOKEN_TTL_SECONDS, accessTokenMaxTTL: TOKEN_TTL_SECONDS, tokenType: "Bearer" });
    }

    const m = /^\/api\/v3\/secrets\/raw(?:\/([^/]+))?$/.exec(u.pathname);
    if (!m) return sendJson(res, 404, problem(404, "NotFound", `Route ${req.method}:${u.pathname} not found`));
    const bearer = (req.headers.authorization ?? "").replace(/^Bearer /, "");
    if (!tokens.has(bearer)) return sendJson(res, 401, problem(401, "UnauthorizedError", "Invalid token"));

    const q = req.method === "GET" ? Object.fromEntries(u.searchParams) : json;
    if (q.workspaceId !== projectId) return sendJson(res, 403, problem(403, "PermissionDenied", "You are not allowed to access this project"));
    const env = q.environment;
    if (env !== environment) return sendJson(res, 404, problem(404, "NotFound", `Environment with slug '${env}' in project with ID '${projectId}' not found`));
    const path = q.secretPath || "/";

    if (!m[1]) {
      if (req.method !== "GET") return sendJson(res, 405, problem(405, "MethodNotAllowed", "method not allowed"));
      await holdList();
      const secrets = [...store.values()].filter((s) => s.environment === env && s.secretPath === path).map(shape);
      return sendJson(res, 200, { secrets, imports: [] });
    }
    const name = decodeURIComponent(m[1]);
    const key = keyOf(env, path, name);
    const existing = store.get(key);
    const notFound = () => sendJson(res, 404, problem(404, "NotFound", `Secret with name '${name}' not found`));
    const now = new Date().toISOString();
    switch (req.method) {
      case "GET":
        return existing ? sendJson(res, 200, { secret: shape(existing) }) : notFound();
      case "POST": {
        // Infisical's own answer (secret-v2-bridge createSecret throws BadRequestError "Secret already
        // exist"; its error handler sends 400 {reqId, statusCode, message, error: "BadRequest"}).
        if (existing) return sendJson(res, 400, problem(400, "BadRequest", "Secret already exist"));
        const created: StoredSecret = {
          id: randomUUID(),
          secretKey: name,
          secretValue: String(json.secretValue ?? ""),
          secretPath: path,
          environment: env,
          version: 1,
          createdAt: now,
          updatedAt: now,
        };
        store.set(key, created);
        return sendJson(res, 200, { secret: shape(created) });
      }
      case "PATCH":
        if (!existing) return notFound();
        existing.secretValue = String(json.secretValue ?? existing.secretValue);
        existing.version += 1;
        existing.updatedAt = now;
        return sendJson(res, 200, { secret: shape(existing) });
      case "DELETE":
        if (!existing) return notFound();
        store.delete(key);
        return sendJson(res, 200, { secret: shape(existing) });
      default:
        return sendJson(res, 405, problem(405, "MethodNotAllowed", "method not allowed"));
    }
  }, requests);

  return {
    url,
    clientId,
    clientSecret,
    projectId,
    environment,
    requests,
    issuedTokens,
    holdLists(n) {
      held = { wanted: n, waiting: [] };
    },
    peek: (name, secretPath = "/sfp-edge") => store.get(keyOf(environment, secretPath, name))?.secretValue,
    config: (secretPath = "/sfp-edge") => ({ siteUrl: url, clientId, clientSecret, projectId, environment, secretPath }),
    seed(name, value, secretPath = "/sfp-edge") {
      const now = new Date().toISOString();
      store.set(keyOf(environment, secretPath, name), {
        id: randomUUID(),
        secretKey: name,
        secretValue: value,
        secretPath,
        environment,
        version: 1,
        createdAt: now,
        updatedAt: now,
      });
    },
    close: () => close(server),
  };
}
