// What /proc and cgroup v2 say about processes and the container (Linux; elsewhere every reading is
// absent): a process's CPU ticks and resident memory, and the cgroup's CPU usage and limits. Read
// straight from the files, as pidusage does, so no package is needed for a few numbers.
import { readFileSync } from "node:fs";
import type { CgroupLoad, JobSample } from "../../protocol/live.ts";

/** USER_HZ: the unit of /proc/<pid>/stat's CPU times, 100 on every Linux architecture Node runs on. */
const TICKS_PER_SECOND = 100;
const PAGE_KIB = 1024;

function read(path: string): string | null {
  try {
    return readFileSync(path, "utf8");
  } catch {
    return null;
  }
}

/** A process's user+system CPU time (seconds) and resident set (bytes), or null when it is gone or not Linux. */
export function readProcess(pid: number, root = "/proc"): { cpuSeconds: number; rssBytes: number } | null {
  const stat = read(`${root}/${pid}/stat`);
  const status = read(`${root}/${pid}/status`);
  if (stat === null || status === null) return null;
  // The command name (field 2) may hold spaces and parentheses: count fields after its closing one.
  const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
  // After the name: state is field 3, so utime (14) and stime (15) are at 11 and 12 here.
  const utime = Number(fields[11]);
  const stime = Number(fields[12]);
  const rss = /^VmRSS:\s+(\d+)\s+kB/m.exec(status);
  if (!Number.isFinite(utime) || !Number.isFinite(stime)) return null;
  return { cpuSeconds: (utime + stime) / TICKS_PER_SECOND, rssBytes: rss ? Number(rss[1]) * PAGE_KIB : 0 };
}

/** CPU % of one process between two samples (100 = one core busy), and its RSS. */
export class ProcessSampler {
  private last: { cpuSeconds: number; at: number } | null = null;
  private readonly pid: () => number | undefined;
  private readonly root: string;

  constructor(pid: () => number | undefined, root = "/proc") {
    this.pid = pid;
    this.root = root;
  }

  /** The process's share since the previous sample (0 on the first), or null when there is no process to read. */
  sample(now = Date.now()): JobSample | null {
    const pid = this.pid();
    const found = pid === undefined ? null : readProcess(pid, this.root);
    if (!found) return null;
    const last = this.last;
    this.last = { cpuSeconds: found.cpuSeconds, at: now };
    const elapsed = last ? (now - last.at) / 1000 : 0;
    const cpuPercent = last && elapsed > 0 ? Math.max(0, ((found.cpuSeconds - last.cpuSeconds) / elapsed) * 100) : 0;
    return { cpuPercent: Math.round(cpuPercent * 10) / 10, memoryRssBytes: found.rssBytes };
  }
}

/** The container's cgroup v2 usage and limits; undefined when there is no cgroup v2 to read. */
export function readCgroup(root = "/sys/fs/cgroup"): CgroupLoad | undefined {
  const load: CgroupLoad = {};
  const usage = /^usage_usec (\d+)$/m.exec(read(`${root}/cpu.stat`) ?? "");
  if (usage) load.cpuUsageUsec = Number(usage[1]);
  const cpuMax = (read(`${root}/cpu.max`) ?? "").trim().split(/\s+/);
  if (cpuMax.length === 2 && cpuMax[0] !== "max" && Number(cpuMax[1]) > 0) load.cpuLimitCores = Number(cpuMax[0]) / Number(cpuMax[1]);
  const current = (read(`${root}/memory.current`) ?? "").trim();
  if (/^\d+$/.test(current)) load.memoryCurrentBytes = Number(current);
  const memMax = (read(`${root}/memory.max`) ?? "").trim();
  if (/^\d+$/.test(memMax)) load.memoryMaxBytes = Number(memMax);
  return Object.keys(load).length ? load : undefined;
}
