// The edge's batching of webhook deliveries to their ingest shard (edge/ingest.ts): alone and at once
// when nothing is in flight, together behind a batch in flight under load, a full batch leaving at
// once, and a failed batch retried one delivery at a time. Driven with a shard that records its calls.
import { describe, expect, it } from "vitest";
import type { IngestAnswer, IngestItem } from "../../actors/ingest-actor.ts";
import type { Env } from "../../actors/env.ts";
import { ingest } from "../../edge/ingest.ts";

/** A shard whose calls the test releases by hand, so "in flight" lasts as long as the test says. */
function fakeShards() {
  const calls: { shard: string; items: IngestItem[]; answer: (fail?: boolean) => void }[] = [];
  const stub = (shard: string) => ({
    ingest: (items: IngestItem[]) =>
      new Promise<IngestAnswer[]>((resolve, reject) => {
        calls.push({
          shard,
          items,
          answer: (fail = false) => (fail ? reject(new Error("shard down")) : resolve(items.map((i) => ({ duplicate: false, taskIds: [i.deliveryId] })))),
        });
      }),
  });
  const env = { INGEST: { idFromName: (name: string) => name, get: stub } } as unknown as Env;
  return { env, calls };
}

const ctx = { waitUntil: () => {} };
const item = (deliveryId: string): IngestItem => ({ sourceId: "src", deliveryId, tasks: [] });
/** Lets every pending promise step run. */
const turn = () => new Promise((r) => setTimeout(r, 5));

describe("edge batching to the ingest shards", () => {
  it("sends a lone delivery at once, and gathers the ones arriving meanwhile behind it", async () => {
    const { env, calls } = fakeShards();
    const first = ingest(env, ctx, 101, item("d0"));
    await turn();
    // Nothing was in flight: it left without waiting for company.
    expect(calls.map((c) => c.items.length)).toEqual([1]);
    const rest = Array.from({ length: 5 }, (_, i) => ingest(env, ctx, 101, item(`d${i + 1}`)));
    await turn();
    expect(calls).toHaveLength(1);
    calls[0].answer();
    await turn();
    // The five waited for the first's answer and travel as one batch.
    expect(calls.map((c) => c.items.map((i) => i.deliveryId))).toEqual([["d0"], ["d1", "d2", "d3", "d4", "d5"]]);
    calls[1].answer();
    expect((await first).taskIds).toEqual(["d0"]);
    expect((await Promise.all(rest)).map((a) => a.taskIds[0])).toEqual(["d1", "d2", "d3", "d4", "d5"]);
  });

  it("lets a full batch leave without waiting, and gathers the next behind it", async () => {
    const { env, calls } = fakeShards();
    const all = [ingest(env, ctx, 102, item("x"))];
    await turn();
    for (let i = 0; i < 70; i++) all.push(ingest(env, ctx, 102, item(`y${i}`)));
    await turn();
    expect(calls.map((c) => c.items.length)).toEqual([1, 64]);
    calls[0].answer();
    calls[1].answer();
    await turn();
    expect(calls.map((c) => c.items.length)).toEqual([1, 64, 6]);
    calls[2].answer();
    expect(await Promise.all(all)).toHaveLength(71);
  });

  it("retries each delivery of a failed batch on its own, and keeps other shards apart", async () => {
    const { env, calls } = fakeShards();
    const a = ingest(env, ctx, 103, item("a"));
    const other = ingest(env, ctx, 104, item("o"));
    await turn();
    expect(calls.map((c) => [c.shard, c.items.length])).toEqual([
      ["ingest-103", 1],
      ["ingest-104", 1],
    ]);
    const b = [ingest(env, ctx, 103, item("b1")), ingest(env, ctx, 103, item("b2"))];
    calls[0].answer();
    calls[1].answer();
    await turn();
    calls[2].answer(true);
    await turn();
    // The batch of two failed: each delivery is sent alone (the shard dedupes, so a repeat is harmless).
    expect(calls.slice(3).map((c) => c.items.map((i) => i.deliveryId))).toEqual([["b1"], ["b2"]]);
    for (const c of calls.slice(3)) c.answer();
    expect((await Promise.all([a, other, ...b])).map((r) => r.taskIds[0])).toEqual(["a", "o", "b1", "b2"]);
  });
});
