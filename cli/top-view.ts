// What `sfp-edge top` shows, kept apart from the socket that feeds it: the project's unfinished
// tasks and its runners' load, updated from project feed messages and drawn as plain text lines.
import { isTerminal, type RunnerInfo, type RunnerLoad, type ServerMessage, type TaskSummary } from "../protocol/index.ts";

const STATUS_ORDER = ["running", "canceling", "awaiting_approval", "queued"];

export class TopView {
  readonly tasks = new Map<string, TaskSummary>();
  readonly runners = new Map<string, RunnerLoad>();
  lastSeq = 0;
  connection = "connecting";
  /** Set when the feed said `reset`: the caller lists again. */
  needsList = false;

  /** Starts over from a list of unfinished tasks (and the runners, when the token may list them). */
  load(tasks: TaskSummary[], runners: RunnerInfo[] | null): void {
    this.tasks.clear();
    for (const t of tasks) if (!isTerminal(t.status)) this.tasks.set(t.id, t);
    if (runners) {
      this.runners.clear();
      for (const r of runners) this.runners.set(r.id, loadOf(r));
    }
    this.needsList = false;
  }

  /** Applies one feed message; answers whether the screen changed. */
  apply(m: ServerMessage): boolean {
    if ("seq" in m && typeof m.seq === "number") this.lastSeq = Math.max(this.lastSeq, m.seq);
    if (m.type === "hello") this.lastSeq = Math.max(this.lastSeq, m.lastSeq);
    if (m.type === "reset") {
      this.lastSeq = m.lastSeq;
      this.needsList = true;
      return false;
    }
    if (m.type === "task") {
      const known = this.tasks.get(m.task.id);
      if (known && known.version > m.task.version) return false;
      if (isTerminal(m.task.status)) this.tasks.delete(m.task.id);
      else this.tasks.set(m.task.id, m.task);
      return true;
    }
    if (m.type === "runner") {
      this.runners.set(m.runner.id, m.runner);
      return true;
    }
    return false;
  }

  /** The screen: a header, the runners, then the tasks, cut to `rows` lines. */
  render(project: string, now: Date, rows = 40): string[] {
    const jobLoad = new Map<string, { cpu: number; rss: number; runner: string }>();
    for (const r of this.runners.values()) for (const j of r.jobs) jobLoad.set(j.taskId, { cpu: j.cpuPercent, rss: j.memoryRssBytes, runner: r.name ?? r.id });
    const tasks = [...this.tasks.values()].sort(
      (a, b) => STATUS_ORDER.indexOf(a.status) - STATUS_ORDER.indexOf(b.status) || a.createdAt.localeCompare(b.createdAt),
    );
    const count = (s: string) => tasks.filter((t) => t.status === s).length;
    const out = [
      `sfp-edge top  project ${project}  ${now.toISOString().slice(11, 19)}  feed ${this.connection} (seq ${this.lastSeq})   q quits`,
      "",
      `RUNNERS ${this.runners.size}`,
      ...table([
        ["NAME", "POOL", "STATUS", "BUSY", "CPU", "RSS", "CGROUP MEM"],
        ...[...this.runners.values()].map((r) => [
          r.name ?? r.id,
          r.pool,
          r.status,
          `${r.slots - r.freeSlots}/${r.slots}`,
          pct(r.cpuPercent),
          mib(r.memoryRssBytes),
          r.cgroup?.memoryCurrentBytes !== undefined
            ? `${mib(r.cgroup.memoryCurrentBytes)}${r.cgroup.memoryMaxBytes ? ` / ${mib(r.cgroup.memoryMaxBytes)}` : ""}`
            : "-",
        ]),
      ]),
      "",
      `TASKS ${count("running")} running, ${count("queued")} queued, ${count("awaiting_approval")} awaiting approval`,
      ...table([
        ["ID", "TYPE", "ORG", "STATUS", "PROGRESS", "CPU", "RSS", "RUNNER"],
        ...tasks.map((t) => {
          const load = jobLoad.get(t.id);
          return [
            t.id,
            t.type,
            t.org,
            t.status,
            t.progress?.percent !== undefined ? `${Math.round(t.progress.percent)}%${t.progress.step ? ` ${t.progress.step}` : ""}` : (t.progress?.step ?? "-"),
            load ? pct(load.cpu) : "-",
            load ? mib(load.rss) : "-",
            load?.runner ?? "-",
          ];
        }),
      ]),
    ];
    return out.slice(0, rows);
  }
}

/** A listed runner as the feed would show it: manager and workers together when the manager reports both. */
function loadOf(r: RunnerInfo): RunnerLoad {
  const jobs = r.resources?.jobs ?? [];
  const manager = r.resources?.manager;
  return {
    id: r.id,
    name: r.name,
    pool: r.pool,
    status: r.state,
    at: r.lastSeenAt,
    cpuPercent: manager ? jobs.reduce((sum, j) => sum + j.cpuPercent, manager.cpuPercent) : (r.resources?.cpuPercent ?? 0),
    memoryRssBytes: manager ? jobs.reduce((sum, j) => sum + j.memoryRssBytes, manager.memoryRssBytes) : (r.resources?.memoryRssBytes ?? 0),
    slots: r.slots,
    freeSlots: r.freeSlots,
    jobs,
    ...(r.resources?.cgroup ? { cgroup: r.resources.cgroup } : {}),
  };
}

function pct(n: number): string {
  return `${n.toFixed(1)}%`;
}

function mib(bytes: number): string {
  return `${Math.round(bytes / (1024 * 1024))}MiB`;
}

function table(rows: string[][]): string[] {
  const widths = rows[0].map((_, i) => Math.max(...rows.map((r) => (r[i] ?? "").length)));
  return rows.map((r) => `  ${r.map((c, i) => c.padEnd(widths[i])).join("  ")}`.trimEnd());
}
