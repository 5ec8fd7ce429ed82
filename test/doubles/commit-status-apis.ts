// The commit-status APIs of GitHub and GitLab on loopback, as strict as the real ones about what the
// edge sends: the token header, the path, a JSON body with only the API's fields and their types,
// GitHub's four states and 140-character description, GitLab's states and its refusal to repeat a
// state. The tests drive them with the real clients (`@octokit/rest`, `@gitbeaker/rest`) too. Tokens
// are registered (and revoked) over a control path, so tests inside workerd can use one of their own.
import type { IncomingMessage, ServerResponse } from "node:http";
import { close, listen, type RecordedRequest } from "./http.ts";

export interface PostedStatus {
  repo: string;
  sha: string;
  state: string;
  context: string;
  description: string | null;
  targetUrl: string | null;
  token: string;
  at: number;
}

const GITHUB_FIELDS = new Set(["state", "target_url", "description", "context"]);
const GITHUB_STATES = new Set(["pending", "success", "failure", "error"]);
const GITLAB_FIELDS = new Set(["state", "ref", "name", "context", "target_url", "description", "coverage", "pipeline_id"]);
const GITLAB_STATES = new Set(["pending", "running", "success", "failed", "canceled", "skipped"]);

function answer(res: ServerResponse, status: number, value: unknown): void {
  res.writeHead(status, { "content-type": "application/json; charset=utf-8" });
  res.end(JSON.stringify(value));
}

function jsonBody(req: IncomingMessage, body: string): Record<string, unknown> | null {
  if (!String(req.headers["content-type"] ?? "").startsWith("application/json")) return null;
  try {
    const parsed: unknown = JSON.parse(body);
    return parsed && typeof parsed === "object" && !Array.isArray(parsed) ? (parsed as Record<string, unknown>) : null;
  } catch {
    return null;
  }
}

const optionalString = (v: unknown) => v === undefined || v === null || typeof v === "string";

export async function startStatusApis() {
  const tokens = new Map<string, boolean>();
  const posted: PostedStatus[] = [];
  const requests: RecordedRequest[] = [];
  const control = (parts: string[], res: ServerResponse, body: string) => {
    if (parts[2] === "token") {
      const { token, valid } = JSON.parse(body) as { token: string; valid: boolean };
      tokens.set(token, valid);
      return answer(res, 200, { ok: true });
    }
    // What was posted for a repo (every sha), in order; also every request's headers, to look for tokens.
    const repo = decodeURIComponent(parts[3] ?? "");
    return answer(res, 200, { posted: posted.filter((p) => p.repo === repo), requests: requests.map((r) => r.url) });
  };

  const github = await listen((req, res, body) => {
    const path = (req.url ?? "/").split("?")[0];
    const parts = path.split("/");
    if (parts[1] === "_control") return control(parts, res, body);
    const auth = /^(?:token|bearer) (.+)$/i.exec(String(req.headers.authorization ?? ""));
    if (!auth || tokens.get(auth[1]) !== true) return answer(res, 401, { message: "Bad credentials", documentation_url: "https://docs.github.com/rest" });
    const m = /^\/repos\/([^/]+)\/([^/]+)\/(statuses\/([^/]+)|commits\/([^/]+)\/statuses)$/.exec(path);
    if (!m) return answer(res, 404, { message: "Not Found" });
    const repo = `${decodeURIComponent(m[1])}/${decodeURIComponent(m[2])}`;
    if (req.method === "GET" && m[5]) {
      const list = posted.filter((p) => p.repo === repo && p.sha === m[5]).reverse();
      return answer(
        res,
        200,
        list.map((p, i) => ({ id: i + 1, state: p.state, context: p.context, description: p.description, target_url: p.targetUrl })),
      );
    }
    if (req.method !== "POST" || !m[4]) return answer(res, 404, { message: "Not Found" });
    const fields = jsonBody(req, body);
    if (!fields) return answer(res, 400, { message: "Problems parsing JSON" });
    const unknown = Object.keys(fields).filter((k) => !GITHUB_FIELDS.has(k));
    const invalid =
      !/^[0-9a-f]{40}$/.test(m[4]) ||
      unknown.length > 0 ||
      typeof fields.state !== "string" ||
      !GITHUB_STATES.has(fields.state) ||
      !optionalString(fields.target_url) ||
      !optionalString(fields.description) ||
      String(fields.description ?? "").length > 140 ||
      !optionalString(fields.context);
    if (invalid) return answer(res, 422, { message: "Validation Failed", errors: unknown.map((field) => ({ field, code: "invalid" })) });
    const status: PostedStatus = {
      repo,
      sha: m[4],
      state: fields.state as string,
      context: (fields.context as string | undefined) ?? "default",
      description: (fields.description as string | undefined) ?? null,
      targetUrl: (fields.target_url as string | undefined) ?? null,
      token: auth[1],
      at: Date.now(),
    };
    posted.push(status);
    return answer(res, 201, { id: posted.length, state: status.state, context: status.context, description: status.description, target_url: status.targetUrl });
  }, requests);

  const gitlab = await listen((req, res, body) => {
    const path = (req.url ?? "/").split("?")[0];
    const parts = path.split("/");
    if (parts[1] === "_control") return control(parts, res, body);
    const token = String(req.headers["private-token"] ?? /^bearer (.+)$/i.exec(String(req.headers.authorization ?? ""))?.[1] ?? "");
    if (tokens.get(token) !== true) return answer(res, 401, { message: "401 Unauthorized" });
    const m = /^\/api\/v4\/projects\/([^/]+)\/(statuses\/([^/]+)|repository\/commits\/([^/]+)\/statuses)$/.exec(path);
    if (!m) return answer(res, 404, { message: "404 Not Found" });
    const repo = decodeURIComponent(m[1]);
    if (req.method === "GET" && m[4]) {
      const list = posted.filter((p) => p.repo === repo && p.sha === m[4]).reverse();
      return answer(
        res,
        200,
        list.map((p, i) => ({ id: i + 1, sha: p.sha, status: p.state, name: p.context, description: p.description, target_url: p.targetUrl })),
      );
    }
    if (req.method !== "POST" || !m[3]) return answer(res, 404, { message: "404 Not Found" });
    const fields = jsonBody(req, body);
    if (!fields) return answer(res, 400, { message: "400 Bad request" });
    const unknown = Object.keys(fields).filter((k) => !GITLAB_FIELDS.has(k));
    if (!/^[0-9a-f]{40}$/.test(m[3])) return answer(res, 404, { message: "404 Commit Not Found" });
    if (
      unknown.length ||
      typeof fields.state !== "string" ||
      !GITLAB_STATES.has(fields.state) ||
      !optionalString(fields.target_url) ||
      !optionalString(fields.description)
    )
      return answer(res, 400, { error: "state does not have a valid value" });
    const name = (fields.name as string | undefined) ?? (fields.context as string | undefined) ?? "default";
    const last = posted.filter((p) => p.repo === repo && p.sha === m[3] && p.context === name).at(-1);
    // GitLab keeps one status per (sha, name) and refuses a transition to the state it is already in.
    if (last && last.state === fields.state) return answer(res, 400, { message: `Cannot transition status via :${fields.state} from :${last.state}` });
    const status: PostedStatus = {
      repo,
      sha: m[3],
      state: fields.state,
      context: name,
      description: (fields.description as string | undefined) ?? null,
      targetUrl: (fields.target_url as string | undefined) ?? null,
      token,
      at: Date.now(),
    };
    posted.push(status);
    return answer(res, 201, { id: posted.length, sha: status.sha, status: status.state, name, target_url: status.targetUrl, description: status.description });
  }, requests);

  return {
    githubUrl: github.url,
    gitlabUrl: gitlab.url,
    posted,
    requests,
    close: async () => {
      await close(github.server);
      await close(gitlab.server);
    },
  };
}
