// The naive baseline for B1: each request is one Durable Object RPC that commits one SQLite row —
// what ingest costs when every delivery is written on its own (POST /append/<object>).
import { DurableObject } from "cloudflare:workers";

interface Env {
  LOG: DurableObjectNamespace<Log>;
}

export class Log extends DurableObject<Env> {
  constructor(ctx: DurableObjectState, env: Env) {
    super(ctx, env);
    ctx.storage.sql.exec("CREATE TABLE IF NOT EXISTS rows (id INTEGER PRIMARY KEY, body TEXT NOT NULL)");
  }

  async append(body: string): Promise<number> {
    this.ctx.storage.sql.exec("INSERT INTO rows (body) VALUES (?)", body);
    return this.ctx.storage.sql.exec<{ n: number }>("SELECT COUNT(*) AS n FROM rows").one().n;
  }
}

export default {
  async fetch(request: Request, env: Env): Promise<Response> {
    const m = /^\/append\/([\w-]+)$/.exec(new URL(request.url).pathname);
    if (!m || request.method !== "POST") return new Response("not found", { status: 404 });
    const n = await env.LOG.get(env.LOG.idFromName(m[1])).append(await request.text());
    return Response.json({ n }, { status: 202 });
  },
} satisfies ExportedHandler<Env>;
