// docs/API.md is the reference users read, so it must not drift from the code: every route the edge
// serves has a section there and every section names a served route, every error code is in its
// errors table with its status, and no tracked file sends the reader to a design document that a
// clone of the repository does not have. The test folders' READMEs name every file they hold.
import { execFileSync } from "node:child_process";
import { existsSync, readdirSync, readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { describe, expect, it } from "vitest";
import { app } from "../../edge/app.ts";
import { ERROR_STATUS, type ErrorCode } from "../../protocol/errors.ts";

const root = fileURLToPath(new URL("../../", import.meta.url));
const apiDoc = readFileSync(`${root}docs/API.md`, "utf8");
const METHODS = new Set(["GET", "POST", "PUT", "PATCH", "DELETE"]);

/** Route sections are headings such as `### POST /v1/projects/:project/tasks`. */
function documentedRoutes(markdown: string): Set<string> {
  const out = new Set<string>();
  for (const m of markdown.matchAll(/^#{2,4} ([A-Z]+) (\/\S*)\s*$/gm)) if (METHODS.has(m[1])) out.add(`${m[1]} ${m[2]}`);
  return out;
}

/** The routes of the edge's OpenAPI document, with hono's `:param` spelling. */
async function openApiRoutes(): Promise<string[]> {
  // The edge answers nothing but 503 misconfigured without its secrets (edge/config.ts).
  const res = await app.request("/v1/openapi.json", {}, { TOKEN_SIGNING_KEY: "docs-test-signing-key-0123456789", ADMIN_TOKEN: "docs-test-admin-token" });
  expect(res.status).toBe(200);
  const doc = (await res.json()) as { paths: Record<string, Record<string, unknown>> };
  return Object.entries(doc.paths).flatMap(([path, item]) =>
    Object.keys(item)
      .map((key) => key.toUpperCase())
      .filter((method) => METHODS.has(method))
      .map((method) => `${method} ${path.replace(/\{(\w+)\}/g, ":$1")}`),
  );
}

/** Every route the app serves, also those outside the document (WebSocket upgrades, the document itself). */
function servedRoutes(): string[] {
  return [...new Set(app.routes.filter((r) => METHODS.has(r.method)).map((r) => `${r.method} ${r.path}`))];
}

/** The errors table's rows: `` | `code` | status | when | ``. */
function documentedErrors(markdown: string): Map<string, number> {
  const out = new Map<string, number>();
  for (const m of markdown.matchAll(/^\|\s*`([a-z_]+)`\s*\|\s*(\d{3})\s*\|/gm)) out.set(m[1], Number(m[2]));
  return out;
}

// Spelled in two parts so that this file does not name it itself.
const OUTSIDE_DESIGN_DOC = ["DESIGN", "md"].join(".");

/**
 * Files outside the docs change's reach (actors/ was being restructured at the same time) that still
 * name the outside document. Each entry must go once its file is fixed: the second test insists.
 */
const PENDING = new Set<string>();

function trackedFilesNaming(text: string): string[] {
  const files = execFileSync("git", ["ls-files", "-z"], { cwd: root }).toString().split("\0").filter(Boolean);
  return files.filter((file) => existsSync(`${root}${file}`) && readFileSync(`${root}${file}`).includes(text));
}

describe("docs/API.md", () => {
  it("has a section for every route of the OpenAPI document", async () => {
    const documented = documentedRoutes(apiDoc);
    const routes = await openApiRoutes();
    expect(routes.length).toBeGreaterThan(25);
    expect(routes.filter((r) => !documented.has(r))).toEqual([]);
  });

  it("has a section for every route the edge serves, and none for a route it does not serve", () => {
    const documented = documentedRoutes(apiDoc);
    const served = servedRoutes();
    expect(served).toEqual(expect.arrayContaining(["GET /v1/tasks/:id/ws", "GET /v1/projects/:project/ws", "GET /v1/openapi.json"]));
    expect(served.filter((r) => !documented.has(r))).toEqual([]);
    expect([...documented].filter((r) => !served.includes(r))).toEqual([]);
  });

  it("lists every error code of protocol/errors.ts with its status, and no other", () => {
    const documented = documentedErrors(apiDoc);
    const codes = Object.keys(ERROR_STATUS) as ErrorCode[];
    expect(codes.filter((code) => documented.get(code) !== ERROR_STATUS[code])).toEqual([]);
    expect([...documented.keys()].filter((code) => !(code in ERROR_STATUS))).toEqual([]);
  });
});

describe("references", () => {
  it("send no reader to a design document outside the repository", () => {
    expect(trackedFilesNaming(OUTSIDE_DESIGN_DOC).filter((file) => !PENDING.has(file))).toEqual([]);
  });

  it("keep the list of files still to fix honest: each one still names it", () => {
    const naming = new Set(trackedFilesNaming(OUTSIDE_DESIGN_DOC));
    expect([...PENDING].filter((file) => !naming.has(file))).toEqual([]);
  });
});

describe("the test folders' READMEs", () => {
  it.each(["test/workers", "test/system"])("%s/README.md has a row for each of its files, and for no file it lacks", (folder) => {
    const readme = readFileSync(`${root}${folder}/README.md`, "utf8");
    const files = readdirSync(`${root}${folder}`).filter((f) => f.endsWith(".ts"));
    const rows = [...readme.matchAll(/^\| \[([\w.-]+\.ts)\]\(\1\)/gm)].map((m) => m[1]);
    expect(files.length).toBeGreaterThan(5);
    expect(files.filter((f) => !rows.includes(f))).toEqual([]);
    expect(rows.filter((f) => !files.includes(f))).toEqual([]);
  });
});
