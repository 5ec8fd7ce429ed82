// A webhook delivery's tasks are made durable by one RPC to the delivery's ingest shard.
// (Batching deliveries of concurrent requests at the edge would save RPCs, but workerd cancels a
// request that waits on a promise another request resolves — it looks hung — so each request
// carries its own delivery; the shard amortises the rest.)
import type { IngestAnswer, IngestItem } from "../actors/ingest-actor.ts";
import { ingestStub, type Env } from "./env.ts";

export async function ingest(env: Env, shard: number, item: IngestItem): Promise<IngestAnswer> {
  return ingestStub(env, shard).ingest(item);
}
