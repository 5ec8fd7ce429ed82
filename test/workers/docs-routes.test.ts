// docs/API.md is the reference users read, so its routes must not drift from the app's: every route
// the edge serves has a section there and every section names a served route. It runs here, beside
// the app and under the Workers types, because it asks the app itself for its routes.
import { describe, expect, it } from "vitest";
import apiDoc from "../../docs/API.md?raw";
import { app } from "../../edge/app.ts";

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

describe("docs/API.md routes", () => {
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
});
