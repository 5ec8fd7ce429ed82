// A real git server on loopback: Debian's `git http-backend` (smart HTTP, protocol v2) behind a small
// CGI bridge that asks for a token the way GitHub and GitLab do (HTTP basic, any user name, the token
// as the password; or a bearer token). Every request is recorded with the bytes the server sent, so
// tests can see what a fetch cost and that no secret travelled where it should not.
import { spawn } from "node:child_process";
import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import { join } from "node:path";

export interface GitRequest {
  method: string;
  url: string;
  /** Whether the request carried the right token. */
  authorized: boolean;
  status: number;
  /** Bytes of the response body (for an upload-pack POST: the pack and its framing). */
  responseBytes: number;
  headers: Record<string, string | string[] | undefined>;
}

export interface GitServer {
  /** Base URL; a repository `<name>.git` under `root` is served at `${url}/<name>.git`. */
  url: string;
  requests: GitRequest[];
  /** Refuse (401) or serve without auth from now on. */
  setToken(token: string | undefined): void;
  close(): Promise<void>;
}

export async function startGitServer(opts: { root: string; token?: string }): Promise<GitServer> {
  let token = opts.token;
  const requests: GitRequest[] = [];

  const handler = (req: IncomingMessage, res: ServerResponse) => {
    const record: GitRequest = {
      method: req.method ?? "GET",
      url: req.url ?? "/",
      authorized: token === undefined || presented(req) === token,
      status: 0,
      responseBytes: 0,
      headers: req.headers,
    };
    requests.push(record);
    if (!record.authorized) {
      record.status = 401;
      req.resume();
      res.writeHead(401, { "www-authenticate": 'Basic realm="git"', "content-type": "text/plain" });
      res.end("authentication required\n");
      return;
    }
    const url = new URL(req.url ?? "/", "http://git.invalid");
    // CGI/1.1 as http-backend reads it; the Authorization header is never handed on.
    const env: Record<string, string> = {
      PATH: process.env.PATH ?? "/usr/bin:/bin",
      GIT_PROJECT_ROOT: opts.root,
      GIT_HTTP_EXPORT_ALL: "1",
      GIT_CONFIG_NOSYSTEM: "1",
      GIT_CONFIG_GLOBAL: "/dev/null",
      REQUEST_METHOD: req.method ?? "GET",
      PATH_INFO: decodeURIComponent(url.pathname),
      QUERY_STRING: url.search.replace(/^\?/, ""),
      CONTENT_TYPE: req.headers["content-type"] ?? "",
      REMOTE_ADDR: req.socket.remoteAddress ?? "127.0.0.1",
      REMOTE_USER: "git",
      GIT_PROTOCOL: String(req.headers["git-protocol"] ?? ""),
      HTTP_CONTENT_ENCODING: String(req.headers["content-encoding"] ?? ""),
    };
    if (req.headers["content-length"]) env.CONTENT_LENGTH = String(req.headers["content-length"]);
    const cgi = spawn("git", ["http-backend"], { env, stdio: ["pipe", "pipe", "pipe"] });
    req.pipe(cgi.stdin);
    cgi.stdin.on("error", () => {});
    let stderr = "";
    cgi.stderr.on("data", (c: Buffer) => {
      stderr += c.toString();
    });
    let head = Buffer.alloc(0);
    let headersDone = false;
    cgi.stdout.on("data", (chunk: Buffer) => {
      if (headersDone) {
        record.responseBytes += chunk.length;
        res.write(chunk);
        return;
      }
      head = Buffer.concat([head, chunk]);
      const end = head.indexOf("\r\n\r\n");
      if (end < 0) return;
      headersDone = true;
      let status = 200;
      const headers: Record<string, string> = {};
      for (const line of head.subarray(0, end).toString("latin1").split("\r\n")) {
        const colon = line.indexOf(":");
        if (colon < 0) continue;
        const name = line.slice(0, colon).trim();
        const value = line.slice(colon + 1).trim();
        if (name.toLowerCase() === "status") status = Number.parseInt(value, 10);
        else headers[name] = value;
      }
      record.status = status;
      res.writeHead(status, headers);
      const rest = head.subarray(end + 4);
      record.responseBytes += rest.length;
      res.write(rest);
    });
    cgi.on("close", (code) => {
      if (!headersDone) {
        record.status = 500;
        res.writeHead(500, { "content-type": "text/plain" });
        res.end(`git http-backend exited ${code}: ${stderr}`);
        return;
      }
      res.end();
    });
  };

  const server: Server = createServer(handler);
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(0, "127.0.0.1", resolve);
  });
  const addr = server.address();
  const port = typeof addr === "object" && addr ? addr.port : 0;
  return {
    url: `http://127.0.0.1:${port}`,
    requests,
    setToken(next) {
      token = next;
    },
    close() {
      server.closeAllConnections();
      return new Promise((resolve) => server.close(() => resolve()));
    },
  };
}

/** The token a request presents: the password of HTTP basic (any user name) or a bearer token. */
function presented(req: IncomingMessage): string | undefined {
  const auth = req.headers.authorization ?? "";
  const [scheme, value = ""] = auth.split(" ", 2);
  if (/^bearer$/i.test(scheme)) return value;
  if (!/^basic$/i.test(scheme)) return undefined;
  const decoded = Buffer.from(value, "base64").toString("utf8");
  const colon = decoded.indexOf(":");
  return colon < 0 ? undefined : decoded.slice(colon + 1);
}

/** Where a bare repository named `name` lives under the server's root. */
export function repoPath(root: string, name: string): string {
  return join(root, `${name}.git`);
}
