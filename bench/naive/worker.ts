// The naive baselines. B1: each request is one Durable Object RPC that commits one SQLite row — what
// ingest costs when every delivery is written on its own (POST /append/<object>) — and B1's floor,
// the same rows batched as the edge batches deliveries: requests that reach the isolate while a
// batch is in flight to their object go together in the next, one RPC and one commit for all
// (POST /batch/<object>).
// B4's floor: a request parked on the object (GET /wait/<object>?after=N) is answered by the next
// append's commit, the least any long-poll answered by a durable write can cost on this runtime.
// B2's floor: the same, with a new object born with its first row beside that commit
// (POST /spawn/<new>?to=<object>).
// B3's floor: hibernatable sockets on the object (GET /ws/<object>, `?batch=1` for batch frames), and
// each event committed as a row, then sent to every socket as one prepared string
// (POST /emit/<object>?linger=<ms>: events committed within the linger share one round of sends).
import { DurableObject } from "cloudflare:workers";

interface Env {
  LOG: DurableObjectNamespace<Log>;
}

export class Log extends DurableObject<Env> {
  private readonly waiting = new Set<() => void>();
  /** Events committed since the last round of sends: they leave together, one frame per batch socket. */
  private pending: string[] = [];

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

  /** Every body in one commit (one RPC): what a batch of deliveries costs to make durable. */
  async appendMany(bodies: string[]): Promise<number[]> {
    return bodies.map((body) => this.ctx.storage.sql.exec<{ id: number }>("INSERT INTO rows (body) VALUES (?) RETURNING id", body).one().id);
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

  /** A hibernatable subscriber, greeted as the task's sockets are (the bench's clients wait for it). */
  override async fetch(request: Request): Promise<Response> {
    const [client, server] = Object.values(new WebSocketPair());
    this.ctx.acceptWebSocket(server, new URL(request.url).searchParams.get("batch") === "1" ? ["batch"] : []);
    server.send('{"type":"hello"}');
    return new Response(null, { status: 101, webSocket: client });
  }

  /**
   * Commits the event, then sends it — with any committed within `lingerMs` — once to every socket:
   * no per-socket state, each frame serialized once. The output gate holds the sends until the
   * commit is durable, as the task actor's are. (workerd writes the frames after the JavaScript
   * returns, so without a linger nothing shows that the last round is still going out.)
   */
  async emit(body: string, lingerMs: number): Promise<void> {
    const seq = this.ctx.storage.sql.exec<{ id: number }>("INSERT INTO rows (body) VALUES (?) RETURNING id", body).one().id;
    const { type, message } = JSON.parse(body) as { type: string; message?: string };
    this.pending.push(JSON.stringify({ seq, type, message }));
    if (this.pending.length === 1) setTimeout(() => this.flush(), lingerMs);
  }

  private flush(): void {
    const events = this.pending;
    this.pending = [];
    const batch = `{"type":"events","events":[${events.join(",")}]}`;
    const plain = events.map((e) => `{"type":"event","event":${e}}`);
    for (const ws of this.ctx.getWebSockets()) {
      if (this.ctx.getTags(ws).includes("batch")) ws.send(batch);
      else for (const frame of plain) ws.send(frame);
    }
  }
}

/**
 * Per object: the batch in flight and the one gathering behind it — edge/ingest.ts's rule without its
 * size cap and fallbacks. A request that finds nothing in flight goes at once; the others join the
 * next batch, which its first request sends once the one ahead has answered.
 */
interface Batch {
  bodies: string[];
  ids: number[] | null;
  done: Promise<void>;
  settle: () => void;
}
const lanes = new Map<string, { flying: Batch | null; next: Batch | null }>();

async function batched(env: Env, ctx: ExecutionContext, object: string, body: string): Promise<number> {
  const lane = lanes.get(object) ?? { flying: null, next: null };
  lanes.set(object, lane);
  const joining = lane.next;
  if (joining) {
    const index = joining.bodies.push(body) - 1;
    await withOwnTimer(joining.done);
    return answer(joining, index);
  }
  const { promise: done, resolve: settle } = Promise.withResolvers<void>();
  const batch: Batch = { bodies: [body], ids: null, done, settle };
  const ahead = lane.flying;
  if (ahead) {
    lane.next = batch;
    await withOwnTimer(ahead.done);
    if (lane.next === batch) lane.next = null;
  }
  lane.flying = batch;
  const sent = env.LOG.get(env.LOG.idFromName(object))
    .appendMany(batch.bodies)
    .then((ids) => {
      batch.ids = ids;
    })
    .finally(() => {
      if (lane.flying === batch) lane.flying = null;
      batch.settle();
    });
  ctx.waitUntil(sent);
  await sent;
  return answer(batch, 0);
}

/** Item `index`'s row id once its batch has answered (the batch's RPC failing fails every item). */
function answer(batch: Batch, index: number): number {
  if (!batch.ids) throw new Error("batch failed");
  return batch.ids[index];
}

/** workerd cancels a request that waits only on another request's promise; a timer of its own says otherwise. */
async function withOwnTimer(done: Promise<void>): Promise<void> {
  const timer = setTimeout(() => {}, 30_000);
  await done;
  clearTimeout(timer);
}

export default {
  async fetch(request: Request, env: Env, ctx: ExecutionContext): Promise<Response> {
    const url = new URL(request.url);
    const append = /^\/append\/([\w-]+)$/.exec(url.pathname);
    if (append && request.method === "POST") {
      const n = await env.LOG.get(env.LOG.idFromName(append[1])).append(await request.text());
      return Response.json({ n }, { status: 202 });
    }
    const batch = /^\/batch\/([\w-]+)$/.exec(url.pathname);
    if (batch && request.method === "POST") {
      const id = await batched(env, ctx, batch[1], await request.text());
      return Response.json({ id }, { status: 202 });
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
    const ws = /^\/ws\/([\w-]+)$/.exec(url.pathname);
    if (ws && request.headers.get("upgrade") === "websocket") return env.LOG.get(env.LOG.idFromName(ws[1])).fetch(request);
    const emit = /^\/emit\/([\w-]+)$/.exec(url.pathname);
    if (emit && request.method === "POST") {
      await env.LOG.get(env.LOG.idFromName(emit[1])).emit(await request.text(), Number(url.searchParams.get("linger") ?? 0));
      return new Response(null, { status: 202 });
    }
    return new Response("not found", { status: 404 });
  },
} satisfies ExportedHandler<Env>;
