// The MetricsActor: one per deployment, the durable home of the edge's counters and gauges
// (metrics.ts batches them here), rendered as Prometheus text for GET /v1/admin/metrics. Queue ages
// are kept as the oldest entry's enqueue time, so a scrape shows the age as of the scrape.
import { DurableObject } from "cloudflare:workers";
import type { Env } from "./env.ts";
import type { MetricRecord } from "./metrics.ts";
import { migrate } from "./sql.ts";

const MIGRATIONS = [
  ["CREATE TABLE sfp_metrics (name TEXT NOT NULL, labels TEXT NOT NULL, kind TEXT NOT NULL, value REAL NOT NULL, PRIMARY KEY (name, labels))"],
];

/** What each metric means, for # HELP; a name not listed here is rendered without help. */
export const METRIC_HELP: Record<string, { help: string; type: "counter" | "gauge" }> = {
  sfp_webhook_deliveries_total: { type: "counter", help: "Webhook deliveries, by source kind and the HTTP status answered." },
  sfp_tasks_created_total: { type: "counter", help: "Tasks created, by type." },
  sfp_tasks_finished_total: { type: "counter", help: "Tasks that reached a final status, by type and outcome." },
  sfp_lease_lapses_total: { type: "counter", help: "Leases that lapsed without a renewal." },
  sfp_queue_depth: { type: "gauge", help: "Tasks waiting in a pool's queue, as of the pool's last change." },
  sfp_queue_age_seconds: { type: "gauge", help: "Age of the oldest task waiting in a pool's queue, at the scrape." },
  sfp_sockets_opened_total: { type: "counter", help: "WebSockets accepted, by kind (task, project)." },
  sfp_sockets_closed_total: { type: "counter", help: "WebSockets closed, by kind." },
  sfp_sockets_open: { type: "gauge", help: "WebSockets open now, by kind: opened minus closed." },
};

/** A queue's oldest entry is stored under this name; the scrape renders sfp_queue_age_seconds from it. */
export const QUEUE_OLDEST = "sfp_queue_oldest_enqueued_ms";

type Row = { name: string; labels: string; kind: string; value: number };

export class MetricsActor extends DurableObject<Env> {
  constructor(ctx: DurableObjectState, env: Env) {
    super(ctx, env);
    ctx.blockConcurrencyWhile(async () => migrate(ctx.storage.sql, MIGRATIONS));
  }

  /** Adds a batch: counters add up, gauges take the value. */
  async add(batch: MetricRecord[]): Promise<void> {
    for (const r of batch) {
      const labels = JSON.stringify(Object.entries(r.labels).sort(([a], [b]) => a.localeCompare(b)));
      this.ctx.storage.sql.exec(
        `INSERT INTO sfp_metrics (name, labels, kind, value) VALUES (?, ?, ?, ?)
         ON CONFLICT (name, labels) DO UPDATE SET value = CASE WHEN excluded.kind = 'counter' THEN value + excluded.value ELSE excluded.value END`,
        r.name,
        labels,
        r.kind,
        r.value,
      );
    }
  }

  /** Prometheus text exposition format 0.0.4. */
  async render(now = Date.now()): Promise<string> {
    const rows = this.ctx.storage.sql.exec<Row>("SELECT name, labels, kind, value FROM sfp_metrics ORDER BY name, labels").toArray();
    const series = new Map<string, { labels: [string, string][]; value: number }[]>();
    const put = (name: string, labels: [string, string][], value: number) => {
      const list = series.get(name) ?? [];
      list.push({ labels, value });
      series.set(name, list);
    };
    const sockets = new Map<string, number>();
    for (const r of rows) {
      const labels = JSON.parse(r.labels) as [string, string][];
      if (r.name === QUEUE_OLDEST) put("sfp_queue_age_seconds", labels, r.value > 0 ? Math.max(0, (now - r.value) / 1000) : 0);
      else put(r.name, labels, r.value);
      if (r.name === "sfp_sockets_opened_total" || r.name === "sfp_sockets_closed_total") {
        const key = JSON.stringify(labels);
        sockets.set(key, (sockets.get(key) ?? 0) + (r.name === "sfp_sockets_opened_total" ? r.value : -r.value));
      }
    }
    for (const [key, open] of sockets) put("sfp_sockets_open", JSON.parse(key) as [string, string][], Math.max(0, open));
    const out: string[] = [];
    for (const [name, list] of series) {
      const meta = METRIC_HELP[name];
      if (meta) out.push(`# HELP ${name} ${meta.help}`, `# TYPE ${name} ${meta.type}`);
      for (const s of list) out.push(`${name}${labelText(s.labels)} ${Number.isInteger(s.value) ? s.value : s.value.toFixed(3)}`);
    }
    return `${out.join("\n")}\n`;
  }
}

function labelText(labels: [string, string][]): string {
  if (!labels.length) return "";
  return `{${labels.map(([k, v]) => `${k}="${v.replace(/\\/g, "\\\\").replace(/"/g, '\\"').replace(/\n/g, "\\n")}"`).join(",")}}`;
}
