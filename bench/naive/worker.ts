// The naive baselines. B1: each request is one Durable Object RPC that commits one SQLite row — what
// ingest costs when every delivery is written on its own (POST /append/<object>). B4's floor: a
// request parked on the object (GET /wait/<object>?after=N) is answered by the next append's commit,
// the least any long-poll answered by a durable write can cost on this runtime. B2's floor: the same,
// with a new object born with its first row beside that commit (POST /spawn/<new>?to=<object>).
import { DurableObject } from "cloudflare:workers";

interface Env {
  LOG: DurableObjectNamespace<Log>;
}

export class Log extends DurableObject<Env> {
  private readonly waiting = new Set<() => void>();

  constructor(ctx: DurableObjectState, env: Env) {
    super(ctx, env);
    ctx.storage.sql.exec("CREATE TABLE IF NOT EXISTS rows (id INTEGER PRIMARY KEY, body TEXT NOT NULL)");
  }

  private count(): number {
    return this.ctx.storage.sql.exec<{ n: number }>("SELECT COUNT(*) AS n FROM rows").one().n;
  }

  async append(body: string): Promise<number> {
    this.ctx.storage.sql.exec("INSERT INTO rows (body) VALUES (?)", body);
    for (const wake of [...this.waiting]) wake();
    return this.count();
  }

  /** The row count once it passes `after`, or after 25 s (a timer of its own: workerd cancels a bare wait). */
  async wait(after: number): Promise<number> {
    if (this.count() <= after) {
      await new Promise<void>((resolve) => {
        const done = () => {
          clearTimeout(timer);
          this.waiting.delete(done);
          resolve();
        };
        const timer = setTimeout(done, 25_000);
        this.waiting.add(done);
      });
    }
    return this.count();
  }
}

export default {
  async fetch(request: Request, env: Env): Promise<Response> {
    const url = new URL(request.url);
    const append = /^\/append\/([\w-]+)$/.exec(url.pathname);
    if (append && request.method === "POST") {
      const n = await env.LOG.get(env.LOG.idFromName(append[1])).append(await request.text());
      return Response.json({ n }, { status: 202 });
    }
    // B2's floor: a new object's first row and a row on `to` (which answers its parked request), in parallel.
    const spawn = /^\/spawn\/([\w-]+)$/.exec(url.pathname);
    if (spawn && request.method === "POST") {
      const text = await request.text();
      const to = url.searchParams.get("to") ?? "floor";
      const [, n] = await Promise.all([env.LOG.get(env.LOG.idFromName(spawn[1])).append(text), env.LOG.get(env.LOG.idFromName(to)).append(text)]);
      return Response.json({ n }, { status: 202 });
    }
    const wait = /^\/wait\/([\w-]+)$/.exec(url.pathname);
    if (wait && request.method === "GET") {
      const n = await env.LOG.get(env.LOG.idFromName(wait[1])).wait(Number(url.searchParams.get("after") ?? 0));
      return Response.json({ n }, { status: 200 });
    }
    return new Response("not found", { status: 404 });
  },
} satisfies ExportedHandler<Env>;
