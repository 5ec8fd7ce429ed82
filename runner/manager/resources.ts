// What a runner heartbeat reports about the host: CPU busy share since the last sample (all cores,
// 0–100), the manager's resident memory, and the one-minute load average; and (issue 16) the manager
// process's own CPU and RSS, each job's worker as its job last sampled it, and the container's cgroup v2.
import { cpus, loadavg } from "node:os";
import type { JobLoad } from "../../protocol/live.ts";
import type { Resources } from "../../protocol/runner.ts";
import { readCgroup } from "./proc-stats.ts";

function cpuTimes(): { busy: number; total: number } {
  let busy = 0;
  let total = 0;
  for (const cpu of cpus()) {
    const { user, nice, sys, idle, irq } = cpu.times;
    busy += user + nice + sys + irq;
    total += user + nice + sys + irq + idle;
  }
  return { busy, total };
}

export class ResourceSampler {
  private last = cpuTimes();
  private lastProcess = { usage: process.cpuUsage(), at: Date.now() };
  private readonly cgroupRoot: string;

  constructor(cgroupRoot = "/sys/fs/cgroup") {
    this.cgroupRoot = cgroupRoot;
  }

  sample(jobs: JobLoad[] = []): Resources {
    const now = cpuTimes();
    const total = now.total - this.last.total;
    const busy = now.busy - this.last.busy;
    this.last = now;
    const cpuPercent = total > 0 ? Math.min(100, Math.max(0, (busy / total) * 100)) : 0;
    const resources: Resources = {
      cpuPercent: round(cpuPercent),
      memoryRssBytes: process.memoryUsage.rss(),
      load1: Math.max(0, loadavg()[0] ?? 0),
      manager: this.manager(),
      jobs,
    };
    const cgroup = readCgroup(this.cgroupRoot);
    if (cgroup) resources.cgroup = cgroup;
    return resources;
  }

  /** The manager process's CPU % (100 = one core) since the last sample, and its RSS. */
  private manager(): { cpuPercent: number; memoryRssBytes: number } {
    const at = Date.now();
    const usage = process.cpuUsage(this.lastProcess.usage);
    const elapsedUs = (at - this.lastProcess.at) * 1000;
    this.lastProcess = { usage: process.cpuUsage(), at };
    const cpuPercent = elapsedUs > 0 ? ((usage.user + usage.system) / elapsedUs) * 100 : 0;
    return { cpuPercent: round(Math.min(100_000, cpuPercent)), memoryRssBytes: process.memoryUsage.rss() };
  }
}

function round(n: number): number {
  return Math.round(n * 10) / 10;
}
