// The slice of PostgREST (Supabase's /rest/v1) that @supabase/supabase-js uses for the credential
// store, translated to SQL on a real PostgreSQL: select with eq filters and order, insert, upsert
// (Prefer: resolution=merge-duplicates + on_conflict), delete. Answers and errors as PostgREST shapes them.
import pg from "pg";
import { close, listen, sendJson, type RecordedRequest } from "./http.ts";

export interface SupabaseRestDouble {
  url: string;
  serviceKey: string;
  requests: RecordedRequest[];
  close(): Promise<void>;
}

const IDENT = /^[a-z_][a-z0-9_]*$/;
const quote = (name: string) => {
  if (!IDENT.test(name)) throw new PgrstError(400, "PGRST100", `"${name}" is not a column name this double accepts`);
  return `"${name}"`;
};

class PgrstError extends Error {
  readonly status: number;
  readonly code: string;
  constructor(status: number, code: string, message: string) {
    super(message);
    this.status = status;
    this.code = code;
  }
}

function whereOf(params: URLSearchParams, values: unknown[]): string {
  const parts: string[] = [];
  for (const [key, raw] of params) {
    if (["select", "order", "on_conflict", "limit", "columns"].includes(key)) continue;
    if (!raw.startsWith("eq.")) throw new PgrstError(400, "PGRST100", `operator in "${key}=${raw}" is not supported by this double`);
    values.push(raw.slice(3));
    parts.push(`${quote(key)} = $${values.length}`);
  }
  return parts.length ? ` where ${parts.join(" and ")}` : "";
}

function selectList(params: URLSearchParams): string {
  const select = params.get("select");
  if (!select || select === "*") return "*";
  return select
    .split(",")
    .map((c) => quote(c.trim()))
    .join(", ");
}

function preferOf(header: string | string[] | undefined): Set<string> {
  const text = Array.isArray(header) ? header.join(",") : (header ?? "");
  return new Set(
    text
      .split(",")
      .map((s) => s.trim())
      .filter(Boolean),
  );
}

export async function startSupabaseRest(opts: { connectionString: string; serviceKey?: string }): Promise<SupabaseRestDouble> {
  const serviceKey = opts.serviceKey ?? `sb-service-${crypto.randomUUID()}`;
  const pool = new pg.Pool({ connectionString: opts.connectionString, max: 4 });
  const requests: RecordedRequest[] = [];

  const { server, url } = await listen(async (req, res, body) => {
    const u = new URL(req.url ?? "/", "http://double");
    const m = /^\/rest\/v1\/([^/]+)$/.exec(u.pathname);
    if (!m) return sendJson(res, 404, { message: "not found" });
    if (req.headers.apikey !== serviceKey || req.headers.authorization !== `Bearer ${serviceKey}`) {
      return sendJson(res, 401, { message: "Invalid API key", hint: "Double check your Supabase `anon` or `service_role` API key." });
    }
    const prefer = preferOf(req.headers.prefer);
    const representation = prefer.has("return=representation");
    try {
      const table = quote(decodeURIComponent(m[1]));
      const values: unknown[] = [];
      let sql: string;
      switch (req.method) {
        case "GET": {
          sql = `select ${selectList(u.searchParams)} from ${table}${whereOf(u.searchParams, values)}`;
          const order = u.searchParams.get("order");
          if (order) {
            sql += ` order by ${order
              .split(",")
              .map((o) => {
                const [col, dir] = o.split(".");
                return `${quote(col)} ${dir === "desc" ? "desc" : "asc"}`;
              })
              .join(", ")}`;
          }
          break;
        }
        case "POST": {
          const parsed = JSON.parse(body) as Record<string, unknown> | Array<Record<string, unknown>>;
          const rows = Array.isArray(parsed) ? parsed : [parsed];
          const columns = Object.keys(rows[0] ?? {});
          const tuples = rows.map((row) => `(${columns.map((c) => `$${values.push(row[c] ?? null)}`).join(", ")})`);
          sql = `insert into ${table} (${columns.map(quote).join(", ")}) values ${tuples.join(", ")}`;
          if (prefer.has("resolution=merge-duplicates") || prefer.has("resolution=ignore-duplicates")) {
            const conflict = (u.searchParams.get("on_conflict") ?? "").split(",").filter(Boolean).map(quote);
            if (!conflict.length) throw new PgrstError(400, "PGRST100", "this double needs on_conflict for upserts");
            const ignore = prefer.has("resolution=ignore-duplicates");
            const updates = columns
              .map(quote)
              .filter((c) => !conflict.includes(c))
              .map((c) => `${c} = excluded.${c}`);
            sql += ` on conflict (${conflict.join(", ")}) do ${ignore || !updates.length ? "nothing" : `update set ${updates.join(", ")}`}`;
          }
          sql += ` returning ${selectList(u.searchParams)}`;
          break;
        }
        case "DELETE":
          sql = `delete from ${table}${whereOf(u.searchParams, values)} returning ${selectList(u.searchParams)}`;
          break;
        default:
          return sendJson(res, 405, { message: `${req.method} is not supported by this double` });
      }
      const result = await pool.query(sql, values);
      if (req.method === "GET") return sendJson(res, 200, result.rows);
      if (representation) return sendJson(res, req.method === "POST" ? 201 : 200, result.rows);
      res.writeHead(req.method === "POST" ? 201 : 204);
      res.end();
    } catch (err) {
      if (err instanceof PgrstError) return sendJson(res, err.status, { code: err.code, details: null, hint: null, message: err.message });
      const e = err as { code?: string; message?: string; detail?: string; hint?: string };
      if (e.code === "42P01") {
        return sendJson(res, 404, { code: "PGRST205", details: null, hint: null, message: `Could not find the table 'public.${m[1]}' in the schema cache` });
      }
      // PostgREST maps unique violations to 409 and other database errors to 400, with the SQLSTATE.
      const status = e.code === "23505" ? 409 : 400;
      return sendJson(res, status, { code: e.code ?? "XX000", details: e.detail ?? null, hint: e.hint ?? null, message: e.message ?? String(err) });
    }
  }, requests);

  return {
    url,
    serviceKey,
    requests,
    async close() {
      await close(server);
      await pool.end();
    },
  };
}
