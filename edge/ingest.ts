// Webhook deliveries that reach this isolate at about the same time travel to their ingest shard
// together: one RPC and one commit for the batch instead of one per delivery.
//
// Batches grow with load and cost nothing when idle (Nagle's rule, per shard): a delivery that finds
// no batch in flight to its shard is sent at once; one that finds a batch in flight joins the next,
// which leaves when the one in flight has answered. So at a trickle each delivery travels alone with
// no added latency, and under load a batch carries whatever arrived during one round trip.
//
// The request that opens a batch sends it from its own context and keeps it alive with waitUntil.
// The others wait on the batch's promise, each with a long timer of its own beside it: workerd treats
// a request waiting only on another request's promise as hung and cancels it, and a pending timer of
// its own is what tells it otherwise. No timer fires on the way (each one that fires costs ~80 µs of
// CPU in workerd; the fixed 2 ms window this replaces paid one per batch).
import type { IngestAnswer, IngestItem } from "../actors/ingest-actor.ts";
import { ingestStub, type Env } from "../actors/env.ts";

/** A batch is closed to newcomers once it holds this many deliveries. */
const MAX_BATCH = 64;
/** A batch that has not answered by then is given up on: the delivery is sent on its own (ingest is idempotent). */
const JOIN_TIMEOUT_MS = 5_000;

interface Batch {
  items: IngestItem[];
  answers: IngestAnswer[] | null;
  /** Settles (never rejects) once the batch has answers or has failed. */
  done: Promise<void>;
  settle: () => void;
  /** Resolves when a gathering batch must leave before the one ahead has answered (it is full). */
  full: Promise<void>;
  go: () => void;
}

/** Per shard: the batch last sent (until it settles) and the one gathering behind it. */
interface Lane {
  flying: Batch | null;
  next: Batch | null;
}

const lanes = new Map<number, Lane>();

export async function ingest(env: Env, ctx: Pick<ExecutionContext, "waitUntil">, shard: number, item: IngestItem): Promise<IngestAnswer> {
  let lane = lanes.get(shard);
  if (!lane) {
    lane = { flying: null, next: null };
    lanes.set(shard, lane);
  }
  const gathering = lane.next;
  if (gathering) {
    const index = gathering.items.push(item) - 1;
    if (gathering.items.length >= MAX_BATCH) {
      // Full: it leaves now, and whoever comes next gathers behind it.
      lane.next = null;
      gathering.go();
    }
    return (await awaitBatch(gathering, index)) ?? (await ingestStub(env, shard).ingest([item]))[0];
  }
  const batch = newBatch(item);
  const ahead = lane.flying;
  if (ahead) lane.next = batch;
  const sent = (async () => {
    if (ahead) await settled(Promise.race([ahead.done, batch.full]));
    if (lane.next === batch) lane.next = null;
    lane.flying = batch;
    await send(env, shard, batch);
    if (lane.flying === batch) lane.flying = null;
  })().finally(batch.settle);
  ctx.waitUntil(sent);
  await sent;
  if (batch.answers) return batch.answers[0];
  return (await ingestStub(env, shard).ingest([item]))[0];
}

function newBatch(item: IngestItem): Batch {
  let settle = () => {};
  let go = () => {};
  const done = new Promise<void>((resolve) => {
    settle = resolve;
  });
  const full = new Promise<void>((resolve) => {
    go = resolve;
  });
  return { items: [item], answers: null, done, settle, full, go };
}

async function send(env: Env, shard: number, batch: Batch): Promise<void> {
  try {
    const answers = await ingestStub(env, shard).ingest(batch.items);
    batch.answers = answers.map((a) => ({ duplicate: a.duplicate, taskIds: [...a.taskIds] }));
  } catch (err) {
    console.log(
      JSON.stringify({
        level: "warn",
        msg: "ingest batch failed; its deliveries retry one by one",
        shard,
        size: batch.items.length,
        error: String(err),
      }),
    );
  }
}

/** Waits for another request's promise with a timer of this request's own beside it (see above). */
async function settled(done: Promise<void>): Promise<void> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const gaveUp = new Promise<void>((resolve) => {
    timer = setTimeout(resolve, JOIN_TIMEOUT_MS);
  });
  await Promise.race([done, gaveUp]);
  if (timer !== undefined) clearTimeout(timer);
}

/** The answer for item `index` once its batch has one; null if the batch failed or took too long. */
async function awaitBatch(batch: Batch, index: number): Promise<IngestAnswer | null> {
  await settled(batch.done);
  return batch.answers ? batch.answers[index] : null;
}
