// What a runner heartbeat reports about the host: CPU busy share since the last sample (all cores,
// 0–100), the manager's resident memory, and the one-minute load average.
import { cpus, loadavg } from "node:os";
import type { Resources } from "../../protocol/runner.ts";

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

  sample(): Resources {
    const now = cpuTimes();
    const total = now.total - this.last.total;
    const busy = now.busy - this.last.busy;
    this.last = now;
    const cpuPercent = total > 0 ? Math.min(100, Math.max(0, (busy / total) * 100)) : 0;
    return {
      cpuPercent: Math.round(cpuPercent * 10) / 10,
      memoryRssBytes: process.memoryUsage.rss(),
      load1: Math.max(0, loadavg()[0] ?? 0),
    };
  }
}
