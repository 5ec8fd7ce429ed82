// Edge metrics (issue 16): counters and gauges that every part of the edge records here. Each one is
// written to Workers Analytics Engine (the METRICS_AE binding; one data point per record) and added
// to the MetricsActor (metrics-actor.ts), whose durable SQLite rows a Prometheus scrape reads
// (GET /v1/admin/metrics). Records are batched per isolate: the first record after a send waits
// LINGER_MS for others, at most one call to the actor is in flight, and whatever arrives meanwhile
// goes in the next, so a webhook flood costs a few calls a second, not one per delivery batch (B1's
// profile showed the per-batch sends at ~7% of a delivery's CPU). An isolate that dies between a
// record and its send loses that record (Analytics Engine still has it).
import type { Env } from "./env.ts";

export type MetricKind = "counter" | "gauge";
export interface MetricRecord {
  name: string;
  labels: Record<string, string>;
  kind: MetricKind;
  value: number;
}

/** The one actor that holds the counts. */
export function metricsStub(env: Pick<Env, "METRICS">) {
  return env.METRICS.get(env.METRICS.idFromName("metrics"));
}

/** The records not yet sent, by name and labels (a counter adds up; a gauge keeps its last value). */
const pending = new Map<string, MetricRecord>();
/**
 * When the batch in flight was sent (0: none). Actors and requests of one isolate share this module,
 * but a promise made in one's context must never be awaited in another's (workerd refuses that I/O),
 * so only the context that sends a batch holds its promise; the others just add to `pending`. A
 * batch in flight longer than STUCK_MS (its context was cancelled) no longer blocks the next.
 */
let inFlightSince = 0;
const STUCK_MS = 10_000;
/** How long the first record after a send waits for others: a scrape may lag by this much. */
const LINGER_MS = 250;

function keyOf(name: string, labels: Record<string, string>): string {
  return `${name}\u0000${JSON.stringify(Object.entries(labels).sort(([a], [b]) => a.localeCompare(b)))}`;
}

/** Records one metric; answers the flush, for the caller's waitUntil. */
export function record(env: Pick<Env, "METRICS" | "METRICS_AE">, r: MetricRecord): Promise<void> {
  try {
    const labels = Object.entries(r.labels).sort(([a], [b]) => a.localeCompare(b));
    env.METRICS_AE?.writeDataPoint({ indexes: [r.name], blobs: [r.name, r.kind, ...labels.map(([k, v]) => `${k}=${v}`)], doubles: [r.value] });
  } catch {
    // Analytics Engine is best effort; the actor's count does not depend on it.
  }
  const key = keyOf(r.name, r.labels);
  const known = pending.get(key);
  if (known && r.kind === "counter") known.value += r.value;
  else pending.set(key, { ...r, labels: { ...r.labels } });
  return soon(env);
}

/** Sends what is pending LINGER_MS from now, from this context, unless another context already will. */
function soon(env: Pick<Env, "METRICS">): Promise<void> {
  const now = Date.now();
  if (inFlightSince && now - inFlightSince < STUCK_MS) return Promise.resolve();
  inFlightSince = now;
  return new Promise<void>((resolve) => setTimeout(resolve, LINGER_MS)).then(() => {
    inFlightSince = 0;
    return flush(env);
  });
}

export function count(env: Pick<Env, "METRICS" | "METRICS_AE">, name: string, labels: Record<string, string>, n = 1): Promise<void> {
  return record(env, { name, labels, kind: "counter", value: n });
}

export function gauge(env: Pick<Env, "METRICS" | "METRICS_AE">, name: string, labels: Record<string, string>, value: number): Promise<void> {
  return record(env, { name, labels, kind: "gauge", value });
}

/**
 * Sends what is pending now, one batch at a time; a failed batch is put back for the next. The promise is
 * this context's own: it resolves at once when another context's batch is in flight (which sends
 * what is pending after it).
 */
export function flush(env: Pick<Env, "METRICS">): Promise<void> {
  const now = Date.now();
  if (inFlightSince && now - inFlightSince < STUCK_MS) return Promise.resolve();
  if (!pending.size) return Promise.resolve();
  const batch = [...pending.values()];
  pending.clear();
  inFlightSince = now;
  return metricsStub(env)
    .add(batch)
    .catch((err: unknown) => {
      for (const r of batch) {
        const key = keyOf(r.name, r.labels);
        const known = pending.get(key);
        if (known && r.kind === "counter") known.value += r.value;
        else if (!known) pending.set(key, r);
      }
      console.log(JSON.stringify({ level: "warn", msg: "metrics flush failed", error: String(err) }));
    })
    .finally(() => {
      inFlightSince = 0;
    })
    .then(() => (pending.size ? soon(env) : undefined));
}
