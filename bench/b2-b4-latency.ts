// B2: with a runner's poll parked, a task is created → the poll is answered.
// B4: a long-poll (`GET /v1/tasks/:id?wait=&version=`) is parked → a job event moves the version →
//     the long-poll is answered.
// With BENCH_PROFILE=<dir>, the first measured run of each is sampled by V8's profiler.
// Both are closed-loop, one at a time, timed on this process's monotonic clock; the server's CPU is
// read from /proc around each series.
import { apiCall, settle, type Row } from "./lib/common.ts";
import { cpuSeconds, startEdge, startNaive } from "./lib/edge.ts";
import { profiled } from "./lib/profile.ts";
import { percentile } from "./lib/wrk.ts";

const now = () => performance.now();

export interface LatencyOptions {
  runs: number;
  count: number;
}

interface Runner {
  token: string;
}

async function registerRunner(url: string, project: string, owner: string): Promise<Runner> {
  const reg = await apiCall(url, "POST", `/v1/projects/${project}/registration-tokens`, owner, { pool: "default" });
  const res = await fetch(`${url}/v1/runners/register`, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify({ registrationToken: reg.token, name: "bench", labels: [], slots: 1, ephemeral: false, version: "bench" }),
  });
  if (res.status !== 201) throw new Error(`register: ${res.status} ${await res.text()}`);
  return { token: ((await res.json()) as { runnerToken: string }).runnerToken };
}

/** Accepts and finishes an assignment, so the next measurement starts from an empty queue. */
async function clear(url: string, runner: Runner, taskId: string, assignmentId: string): Promise<string> {
  const acc = await apiCall(url, "POST", `/v1/jobs/${taskId}/accept`, runner.token, { assignmentId });
  return acc.jobToken as string;
}

/** Waits (at most 2 s) until the runner's last poll is newer than `since`: the dispatcher has it. */
async function parkedSince(url: string, project: string, owner: string, since: number): Promise<void> {
  const until = Date.now() + 2_000;
  while (Date.now() < until) {
    const { runners } = await apiCall(url, "GET", `/v1/projects/${project}/runners`, owner);
    if (runners.some((r: { lastSeenAt: string }) => Date.parse(r.lastSeenAt) > since)) return;
    await new Promise((r) => setTimeout(r, 2));
  }
}

function summary(samples: number[]) {
  const s = [...samples].sort((a, b) => a - b);
  return { p50: percentile(s, 50), p99: percentile(s, 99), n: s.length };
}

/**
 * The runtime's floor for B2 and B4: the naive Worker (bench/naive) parks a request on a Durable
 * Object and answers it from another request's one-row commit there — the same closed loop with
 * nothing of ours. B4's trigger is that commit alone (a job event); B2's also creates a new object
 * with its first row in parallel, as a task's birth runs beside its queue entry (edge/new-task.ts).
 */
async function naiveFloors(opts: LatencyOptions): Promise<Row[]> {
  const naive = await startNaive();
  try {
    let rows = 0;
    let births = 0;
    const series = async (trigger: (i: number) => Promise<Response>) => {
      const latency: { p50: number; p99: number; n: number }[] = [];
      const cpuUs: number[] = [];
      for (let run = 0; run <= opts.runs; run++) {
        const samples: number[] = [];
        const cpu0 = cpuSeconds(naive.pid);
        for (let i = 0; i < opts.count; i++) {
          const waiting = fetch(`${naive.url}/wait/floor?after=${rows}`);
          await new Promise((r) => setTimeout(r, 5));
          const t0 = now();
          const posted = trigger(i);
          const res = await waiting;
          const t1 = now();
          await (await posted).text();
          const { n } = (await res.json()) as { n: number };
          if (n <= rows) throw new Error("the floor's wait was answered without a new row");
          rows = n;
          samples.push(t1 - t0);
        }
        if (run > 0) {
          latency.push(summary(samples));
          cpuUs.push(((cpuSeconds(naive.pid) - cpu0) / opts.count) * 1e6);
        }
      }
      return { latency, cpuUs };
    };
    const body = (i: number) => JSON.stringify({ seq: i + 1, type: "progress" });
    const b2 = await series((i) => fetch(`${naive.url}/spawn/birth-${births++}?to=floor`, { method: "POST", body: body(i) }));
    const b4 = await series((i) => fetch(`${naive.url}/append/floor`, { method: "POST", body: body(i) }));
    return [
      { id: "B2", name: `floor: the naive Worker's parked request answered by a row committed beside a new object's first, ${opts.count} times`, ...b2 },
      { id: "B4", name: `floor: the naive Worker's parked request answered by another's one-row commit, ${opts.count} changes`, ...b4 },
    ];
  } finally {
    await naive.stop();
  }
}

export async function b2b4(opts: LatencyOptions): Promise<Row[]> {
  const floors = await naiveFloors(opts);
  const edge = await startEdge();
  try {
    const { project, owner } = await settle(edge.url);
    const runner = await registerRunner(edge.url, project, owner);

    const dispatch: { p50: number; p99: number; n: number }[] = [];
    const dispatchCpu: number[] = [];
    const longPoll: { p50: number; p99: number; n: number }[] = [];
    const longPollCpu: number[] = [];
    for (let run = 0; run <= opts.runs; run++) {
      // B2
      const samples: number[] = [];
      const cpu0 = cpuSeconds(edge.pid);
      let last: { taskId: string; jobToken: string } | null = null;
      await profiled(run === 1 ? edge.inspector : undefined, process.env.BENCH_PROFILE, "b2-dispatch", edge.bundle, async () => {
        for (let i = 0; i < opts.count; i++) {
          // Whatever the runner did before (its accept) is at or before `since`; its new poll is after it.
          const since = Date.now();
          await new Promise((r) => setTimeout(r, 2));
          const poll = fetch(`${edge.url}/v1/runners/poll`, {
            method: "POST",
            headers: { authorization: `Bearer ${runner.token}`, "content-type": "application/json" },
            body: JSON.stringify({ freeSlots: 1, waitSeconds: 25 }),
          });
          // Let the poll reach the dispatcher and park before the task exists: on a loaded machine a
          // fixed 5 ms was not enough, and a poll still on its way measured its own arrival, not dispatch.
          await parkedSince(edge.url, project, owner, since);
          const t0 = now();
          const created = apiCall(edge.url, "POST", `/v1/projects/${project}/tasks`, owner, { type: "org-check", org: "demo" });
          const answered = await poll;
          const t1 = now();
          const task = await created;
          if (answered.status !== 200) throw new Error(`poll answered ${answered.status}`);
          const { assignments } = (await answered.json()) as { assignments: { taskId: string; assignmentId: string }[] };
          if (assignments[0]?.taskId !== task.task.id) throw new Error("the poll was answered with another task");
          samples.push(t1 - t0);
          const jobToken = await clear(edge.url, runner, task.task.id, assignments[0].assignmentId);
          if (last) await apiCall(edge.url, "POST", `/v1/jobs/${last.taskId}/finish`, last.jobToken, { leaseEpoch: 1, outcome: "succeeded" });
          last = { taskId: task.task.id, jobToken };
        }
      });
      const cpu = cpuSeconds(edge.pid) - cpu0;
      if (run > 0) {
        dispatch.push(summary(samples));
        dispatchCpu.push((cpu / opts.count) * 1e6);
      }

      // B4, on the last task, which is running under `last`'s lease.
      const lp: number[] = [];
      const lpCpu0 = cpuSeconds(edge.pid);
      let version = (await apiCall(edge.url, "GET", `/v1/tasks/${last!.taskId}`, owner)).task.version as number;
      await profiled(run === 1 ? edge.inspector : undefined, process.env.BENCH_PROFILE, "b4-long-poll", edge.bundle, async () => {
        for (let i = 0; i < opts.count; i++) {
          const waiting = fetch(`${edge.url}/v1/tasks/${last!.taskId}?wait=25&version=${version}`, { headers: { authorization: `Bearer ${owner}` } });
          await new Promise((r) => setTimeout(r, 5));
          const t0 = now();
          const posted = apiCall(edge.url, "POST", `/v1/jobs/${last!.taskId}/events`, last!.jobToken, {
            leaseEpoch: 1,
            events: [{ seq: i + 1, type: "progress", percent: (i % 100) + 0.5 }],
          });
          const res = await waiting;
          const t1 = now();
          await posted;
          const body = (await res.json()) as { task: { version: number } };
          if (body.task.version <= version) throw new Error("the long-poll was answered without a change");
          version = body.task.version;
          lp.push(t1 - t0);
        }
      });
      const lpCpu = cpuSeconds(edge.pid) - lpCpu0;
      if (run > 0) {
        longPoll.push(summary(lp));
        longPollCpu.push((lpCpu / opts.count) * 1e6);
      }
      await apiCall(edge.url, "POST", `/v1/jobs/${last!.taskId}/finish`, last!.jobToken, { leaseEpoch: 1, outcome: "succeeded" });
    }
    return [
      {
        id: "B2",
        name: `dispatch: task created (API) → parked poll answered, ${opts.count} tasks one at a time`,
        latency: dispatch,
        cpuUs: dispatchCpu,
        note: "a warm-up run is not reported",
      },
      { id: "B4", name: `long-poll: job event posted → ?wait= answered, ${opts.count} changes`, latency: longPoll, cpuUs: longPollCpu },
      ...floors,
    ];
  } finally {
    await edge.stop();
  }
}
