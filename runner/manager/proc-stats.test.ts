import { spawn } from "node:child_process";
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { ProcessSampler, readCgroup, readProcess } from "./proc-stats.ts";
import { ResourceSampler } from "./resources.ts";

const dirs: string[] = [];
afterEach(() => {
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});
function tmp(): string {
  const d = mkdtempSync(join(tmpdir(), "proc-stats-"));
  dirs.push(d);
  return d;
}

describe("process and cgroup readings", () => {
  it("sees a busy child's CPU and RSS through /proc", async () => {
    const child = spawn(process.execPath, ["-e", "const a = []; for (let i = 0; i < 50; i++) a.push(Buffer.alloc(1 << 20, 1)); for (;;) {}"], {
      stdio: "ignore",
    });
    try {
      const sampler = new ProcessSampler(() => child.pid);
      let seen = { cpuPercent: 0, memoryRssBytes: 0 };
      // Waits on the reading itself (the machine may be loaded): a spinning loop shows up as CPU soon.
      for (let i = 0; i < 200 && (seen.cpuPercent < 20 || seen.memoryRssBytes < 50 * 1024 * 1024); i++) {
        await new Promise((r) => setTimeout(r, 100));
        seen = sampler.sample() ?? seen;
      }
      expect(seen.cpuPercent).toBeGreaterThanOrEqual(20);
      expect(seen.memoryRssBytes).toBeGreaterThanOrEqual(50 * 1024 * 1024);
    } finally {
      child.kill("SIGKILL");
    }
  });

  it("reads a command name with spaces and parentheses, and answers null for a process that is gone", () => {
    const root = tmp();
    mkdirSync(join(root, "42"));
    writeFileSync(join(root, "42", "stat"), "42 (a (b) c) S 1 42 42 0 -1 4194304 100 0 0 0 250 50 0 0 20 0 1 0 100 1000 10 0\n");
    writeFileSync(join(root, "42", "status"), "Name:\tx\nVmRSS:\t   2048 kB\n");
    expect(readProcess(42, root)).toEqual({ cpuSeconds: 3, rssBytes: 2048 * 1024 });
    expect(readProcess(43, root)).toBeNull();
    expect(new ProcessSampler(() => undefined, root).sample()).toBeNull();
  });

  it("reads cgroup v2 usage and limits, 'max' meaning no limit, and nothing where there is no cgroup", () => {
    const root = tmp();
    writeFileSync(join(root, "cpu.stat"), "usage_usec 123456\nuser_usec 100000\nsystem_usec 23456\n");
    writeFileSync(join(root, "cpu.max"), "150000 100000\n");
    writeFileSync(join(root, "memory.current"), "52428800\n");
    writeFileSync(join(root, "memory.max"), "max\n");
    expect(readCgroup(root)).toEqual({ cpuUsageUsec: 123456, cpuLimitCores: 1.5, memoryCurrentBytes: 52428800 });
    writeFileSync(join(root, "cpu.max"), "max 100000\n");
    writeFileSync(join(root, "memory.max"), "1073741824\n");
    expect(readCgroup(root)).toEqual({ cpuUsageUsec: 123456, memoryCurrentBytes: 52428800, memoryMaxBytes: 1073741824 });
    expect(readCgroup(join(root, "none"))).toBeUndefined();
  });

  it("reports the manager's own process, the jobs it is given and the cgroup in a runner heartbeat's resources", () => {
    const root = tmp();
    writeFileSync(join(root, "memory.current"), "1000\n");
    const jobs = [{ taskId: "tsk_1", cpuPercent: 50, memoryRssBytes: 100 }];
    const r = new ResourceSampler(root).sample(jobs);
    expect(r.jobs).toEqual(jobs);
    expect(r.cgroup).toEqual({ memoryCurrentBytes: 1000 });
    expect(r.manager?.memoryRssBytes).toBeGreaterThan(0);
  });
});
