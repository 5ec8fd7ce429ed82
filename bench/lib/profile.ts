// A CPU profile of the edge's isolate while a scenario runs (`BENCH_PROFILE=<dir>`): workerd is
// started with its inspector on loopback, the V8 sampling profiler runs over the scenario, and the
// samples are summed per source module of the bundle (esbuild marks each module with a `// path`
// comment), so "where does a delivery's CPU go" is answered from a profile, not from guesses.
import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";

interface CallFrame {
  functionName: string;
  url: string;
  lineNumber: number;
}
interface ProfileNode {
  id: number;
  callFrame: CallFrame;
  children?: number[];
}
interface Profile {
  nodes: ProfileNode[];
  samples: number[];
  timeDeltas: number[];
  startTime: number;
  endTime: number;
}

/** A CDP session to workerd's inspector for the isolate serving `main`. */
async function connect(inspector: string): Promise<{ send: (method: string, params?: object) => Promise<unknown>; close: () => void }> {
  const targets = (await (await fetch(`http://${inspector}/json/list`)).json()) as { webSocketDebuggerUrl: string; title?: string }[];
  const target = targets.find((t) => t.title === "main" || t.webSocketDebuggerUrl.endsWith("/main")) ?? targets[0];
  if (!target) throw new Error("workerd's inspector lists no isolate");
  const ws = new WebSocket(target.webSocketDebuggerUrl);
  await new Promise((resolve, reject) => {
    ws.onopen = resolve;
    ws.onerror = () => reject(new Error("inspector socket failed"));
  });
  let next = 1;
  const waiting = new Map<number, (v: unknown) => void>();
  ws.onmessage = (m) => {
    const msg = JSON.parse(String(m.data)) as { id?: number; result?: unknown };
    if (msg.id !== undefined) waiting.get(msg.id)?.(msg.result);
  };
  return {
    send: (method, params = {}) =>
      new Promise((resolve) => {
        const id = next++;
        waiting.set(id, resolve);
        ws.send(JSON.stringify({ id, method, params }));
      }),
    close: () => ws.close(),
  };
}

/** Runs `during` with the sampling profiler on, writes `<name>.cpuprofile` and a per-module summary. */
export async function profiled<T>(
  inspector: string | undefined,
  dir: string | undefined,
  name: string,
  bundle: string,
  during: () => Promise<T> | T,
): Promise<T> {
  if (!inspector || !dir) return during();
  const cdp = await connect(inspector);
  await cdp.send("Profiler.enable");
  await cdp.send("Profiler.setSamplingInterval", { interval: 200 });
  await cdp.send("Profiler.start");
  const result = await during();
  const { profile } = (await cdp.send("Profiler.stop")) as { profile: Profile };
  cdp.close();
  const code = readFileSync(bundle, "utf8");
  writeFileSync(join(dir, `${name}.cpuprofile`), JSON.stringify(profile));
  // The bundle goes with the profile: its line numbers are what the profile's frames point at.
  writeFileSync(join(dir, `${name}.worker.js`), code);
  writeFileSync(join(dir, `${name}.txt`), summarize(profile, code));
  return result;
}

/** Self time per bundle module and per function (top 40), as shares of the sampled time. */
export function summarize(profile: Profile, bundleText: string): string {
  // esbuild starts each module's code with a `// path/to/file.ts` line.
  const marks: { line: number; module: string }[] = [];
  bundleText.split("\n").forEach((text, line) => {
    const m = /^\/\/ ((?:node_modules\/)?[\w@./-]+\.[mc]?[jt]s)$/.exec(text);
    if (m) marks.push({ line, module: m[1].replace(/^node_modules\/(@[^/]+\/[^/]+|[^/]+)\/.*/, "npm:$1") });
  });
  const moduleAt = (line: number): string => {
    let lo = 0;
    let hi = marks.length - 1;
    let found = "(bundle prelude)";
    while (lo <= hi) {
      const mid = (lo + hi) >> 1;
      if (marks[mid].line <= line) {
        found = marks[mid].module;
        lo = mid + 1;
      } else hi = mid - 1;
    }
    return found;
  };
  const byId = new Map(profile.nodes.map((n) => [n.id, n]));
  const selfUs = new Map<number, number>();
  // A sample is charged the time since the one before it. When the sampler stalls (seen: one 3 s gap
  // charged to a single sample), that gap is not the sampled function's time: each sample counts for
  // at most ten typical intervals, and what was cut is reported.
  const typical = [...profile.timeDeltas].sort((a, b) => a - b)[Math.floor(profile.timeDeltas.length / 2)] ?? 0;
  const cap = typical * 10;
  let cut = 0;
  for (const [i, id] of profile.samples.entries()) {
    const delta = profile.timeDeltas[i] ?? 0;
    cut += Math.max(0, delta - cap);
    selfUs.set(id, (selfUs.get(id) ?? 0) + Math.min(delta, cap));
  }
  // Idle is the isolate waiting; everything else (program, GC, native calls under JS) is its CPU.
  const total = [...selfUs.entries()].filter(([id]) => byId.get(id)?.callFrame.functionName !== "(idle)").reduce((a, [, us]) => a + us, 0);
  const perModule = new Map<string, number>();
  const perFunction = new Map<string, number>();
  for (const [id, us] of selfUs) {
    const f = byId.get(id)?.callFrame;
    if (!f || f.functionName === "(idle)") continue;
    const where = f.url.endsWith("worker.js") ? moduleAt(f.lineNumber) : f.url ? f.url : `(${f.functionName || "native"})`;
    perModule.set(where, (perModule.get(where) ?? 0) + us);
    const fn = `${f.functionName || "(anonymous)"} ${where}${f.url.endsWith("worker.js") ? `:${f.lineNumber + 1}` : ""}`;
    perFunction.set(fn, (perFunction.get(fn) ?? 0) + us);
  }
  // Native calls (SQL exec, RPC stubs, Response) charged to the nearest function of ours above them.
  const parent = new Map<number, number>();
  for (const n of profile.nodes) for (const c of n.children ?? []) parent.set(c, n.id);
  const perCaller = new Map<string, number>();
  for (const [id, us] of selfUs) {
    const f = byId.get(id)?.callFrame;
    if (!f || f.functionName === "(idle)" || f.url.endsWith("worker.js")) continue;
    let up = parent.get(id);
    while (up !== undefined && !byId.get(up)?.callFrame.url.endsWith("worker.js")) up = parent.get(up);
    const caller = up === undefined ? undefined : byId.get(up)?.callFrame;
    const key = `${f.functionName || "(native)"} ← ${caller ? `${caller.functionName || "(anonymous)"} ${moduleAt(caller.lineNumber)}:${caller.lineNumber + 1}` : "(no caller of ours)"}`;
    perCaller.set(key, (perCaller.get(key) ?? 0) + us);
  }
  const table = (m: Map<string, number>, top: number) =>
    [...m.entries()]
      .sort((a, b) => b[1] - a[1])
      .slice(0, top)
      .map(([k, us]) => `${((100 * us) / total).toFixed(1).padStart(5)}%  ${k}`)
      .join("\n");
  return `sampled ${(total / 1e6).toFixed(2)} s of the isolate's time (sampler gaps beyond ${(cap / 1000).toFixed(1)} ms per sample left out: ${(cut / 1e6).toFixed(2)} s)\n\n## self time per module\n${table(perModule, 40)}\n\n## self time per function\n${table(perFunction, 40)}\n\n## native time by the function of ours that called it\n${table(perCaller, 40)}\n`;
}
