// The manager's metrics in Prometheus text exposition format (version 0.0.4), kept by hand: a few
// counters, two gauges and one histogram do not need a client library.

export const METRICS_CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8";
/** Job durations range from a quick query to an hour-long deploy. */
export const JOB_DURATION_BUCKETS = [1, 5, 15, 30, 60, 120, 300, 600, 1800, 3600] as const;

interface Histogram {
  buckets: number[];
  sum: number;
  count: number;
}

export class Metrics {
  jobsStarted = 0;
  readonly jobsFinished = new Map<string, number>();
  readonly edgeErrors = new Map<string, number>();
  readonly durations = new Map<string, Histogram>();
  /** Read at render time from the agent. */
  slots: () => { total: number; free: number } = () => ({ total: 0, free: 0 });

  jobStarted(): void {
    this.jobsStarted++;
  }

  /** `outcome` is the finish outcome, or `lost` when the lease was lost and the edge got no finish. */
  jobFinished(outcome: string, seconds: number): void {
    this.jobsFinished.set(outcome, (this.jobsFinished.get(outcome) ?? 0) + 1);
    let h = this.durations.get(outcome);
    if (!h) {
      h = { buckets: JOB_DURATION_BUCKETS.map(() => 0), sum: 0, count: 0 };
      this.durations.set(outcome, h);
    }
    JOB_DURATION_BUCKETS.forEach((le, i) => {
      if (seconds <= le) h.buckets[i]++;
    });
    h.sum += seconds;
    h.count++;
  }

  edgeError(call: string, code: string): void {
    const key = `${call}\u0000${code}`;
    this.edgeErrors.set(key, (this.edgeErrors.get(key) ?? 0) + 1);
  }

  render(): string {
    const out: string[] = [];
    const { total, free } = this.slots();
    out.push("# HELP sfp_runner_jobs_started_total Jobs whose worker was started.");
    out.push("# TYPE sfp_runner_jobs_started_total counter");
    out.push(`sfp_runner_jobs_started_total ${this.jobsStarted}`);
    out.push("# HELP sfp_runner_jobs_finished_total Jobs that ended, by outcome (lost: lease lost, no finish sent).");
    out.push("# TYPE sfp_runner_jobs_finished_total counter");
    for (const [outcome, n] of this.jobsFinished) out.push(`sfp_runner_jobs_finished_total{outcome="${label(outcome)}"} ${n}`);
    out.push("# HELP sfp_runner_slots_total Jobs this manager runs at once.");
    out.push("# TYPE sfp_runner_slots_total gauge");
    out.push(`sfp_runner_slots_total ${total}`);
    out.push("# HELP sfp_runner_slots_free Slots with no job.");
    out.push("# TYPE sfp_runner_slots_free gauge");
    out.push(`sfp_runner_slots_free ${free}`);
    out.push("# HELP sfp_runner_job_duration_seconds Wall time from accept to finish.");
    out.push("# TYPE sfp_runner_job_duration_seconds histogram");
    for (const [outcome, h] of this.durations) {
      const o = label(outcome);
      JOB_DURATION_BUCKETS.forEach((le, i) => {
        out.push(`sfp_runner_job_duration_seconds_bucket{outcome="${o}",le="${le}"} ${h.buckets[i]}`);
      });
      out.push(`sfp_runner_job_duration_seconds_bucket{outcome="${o}",le="+Inf"} ${h.count}`);
      out.push(`sfp_runner_job_duration_seconds_sum{outcome="${o}"} ${h.sum}`);
      out.push(`sfp_runner_job_duration_seconds_count{outcome="${o}"} ${h.count}`);
    }
    out.push("# HELP sfp_runner_edge_errors_total Failed calls to the edge, by call and error code.");
    out.push("# TYPE sfp_runner_edge_errors_total counter");
    for (const [key, n] of this.edgeErrors) {
      const [call, code] = key.split("\u0000");
      out.push(`sfp_runner_edge_errors_total{call="${label(call)}",code="${label(code)}"} ${n}`);
    }
    return `${out.join("\n")}\n`;
  }
}

function label(value: string): string {
  return value.replace(/\\/g, "\\\\").replace(/"/g, '\\"').replace(/\n/g, "\\n");
}
