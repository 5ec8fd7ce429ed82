// Webhook deliveries that reach this isolate at about the same time travel to their ingest shard
// together: one RPC and one commit for the batch instead of one per delivery.
//
// The request that opens a batch waits one turn of the event loop for others to join, sends the
// batch from its own context and keeps it alive with waitUntil. The others wait on the batch's
// promise, each with a long timer of its own beside it: workerd treats a request waiting only on
// another request's promise as hung and cancels it, and a pending timer of its own is what tells it
// otherwise. (They used to poll shared memory with short timers instead; every timer that fires
// costs ~80 µs of CPU in workerd, so a delivery waiting a few ms paid several hundred µs to poll.)
import type { IngestAnswer, IngestItem } from "../actors/ingest-actor.ts";
import { ingestStub, type Env } from "../actors/env.ts";

/** How long a batch stays open for others to join: the latency batching adds to a delivery. */
const BATCH_WINDOW_MS = 2;
/** A batch is closed to newcomers once it holds this many deliveries. */
const MAX_BATCH = 64;
/** A batch that has not answered by then is given up on: the delivery is sent on its own (ingest is idempotent). */
const JOIN_TIMEOUT_MS = 5_000;

interface Batch {
  shard: number;
  items: IngestItem[];
  answers: IngestAnswer[] | null;
  /** Settles (never rejects) once the batch has answers or has failed. */
  done: Promise<void>;
}

const open = new Map<number, Batch>();

export async function ingest(env: Env, ctx: Pick<ExecutionContext, "waitUntil">, shard: number, item: IngestItem): Promise<IngestAnswer> {
  const joining = open.get(shard);
  if (joining && joining.items.length < MAX_BATCH) {
    const index = joining.items.push(item) - 1;
    return (await awaitBatch(joining, index)) ?? (await ingestStub(env, shard).ingest([item]))[0];
  }
  let settle = () => {};
  const done = new Promise<void>((resolve) => {
    settle = resolve;
  });
  const batch: Batch = { shard, items: [item], answers: null, done };
  open.set(shard, batch);
  const sent = send(env, batch).finally(settle);
  ctx.waitUntil(sent);
  await sent;
  if (batch.answers) return batch.answers[0];
  return (await ingestStub(env, shard).ingest([item]))[0];
}

async function send(env: Env, batch: Batch): Promise<void> {
  await new Promise((resolve) => setTimeout(resolve, BATCH_WINDOW_MS));
  if (open.get(batch.shard) === batch) open.delete(batch.shard);
  try {
    const answers = await ingestStub(env, batch.shard).ingest(batch.items);
    batch.answers = answers.map((a) => ({ duplicate: a.duplicate, taskIds: [...a.taskIds] }));
  } catch (err) {
    console.log(
      JSON.stringify({
        level: "warn",
        msg: "ingest batch failed; its deliveries retry one by one",
        shard: batch.shard,
        size: batch.items.length,
        error: String(err),
      }),
    );
  }
}

/** The answer for item `index` once its batch has one; null if the batch failed or took too long. */
async function awaitBatch(batch: Batch, index: number): Promise<IngestAnswer | null> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const gaveUp = new Promise<void>((resolve) => {
    timer = setTimeout(resolve, JOIN_TIMEOUT_MS);
  });
  await Promise.race([batch.done, gaveUp]);
  if (timer !== undefined) clearTimeout(timer);
  return batch.answers ? batch.answers[index] : null;
}
