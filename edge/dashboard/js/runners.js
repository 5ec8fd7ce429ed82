// The runners and their load. Two sources: the edge's `runner` messages on the project feed (pushed
// with each heartbeat, to any role, on edges that have them) and, for owners, the runner list polled
// every few seconds (GET …/runners). Each runner keeps its recent samples for its chart.
import { api, can, projectPath } from "./api.js";
import { $, bytes, cell, el, time } from "./dom.js";
import { MAX_SAMPLES, sparkline } from "./sparkline.js";

/** id → {id, name, pool, state, slots, freeSlots, cpuPercent, memoryRssBytes, lastSeenAt, tasks, cgroup, samples} */
export const runners = new Map();
export const runnerListeners = new Set();
let pollNote = "";

function changed() {
  renderRunners();
  for (const fn of runnerListeners) fn();
}

function addSample(r, at, cpu, mem, via) {
  const last = r.samples[r.samples.length - 1];
  if (last && last.at >= at) return;
  r.samples.push({ at, cpu, mem, via });
  if (r.samples.length > MAX_SAMPLES) r.samples.shift();
}

function entry(id) {
  let r = runners.get(id);
  if (!r) {
    r = { id, name: id, pool: "", state: "", slots: 0, freeSlots: 0, tasks: [], samples: [], fromList: false };
    runners.set(id, r);
  }
  return r;
}

/** A `runner` message of the project feed: `{id, name?, pool, status, at, cpuPercent, memoryRssBytes, slots, freeSlots, jobs, cgroup?}`. */
export function runnerMessage(m) {
  if (typeof m.id !== "string") return;
  const r = entry(m.id);
  Object.assign(r, {
    name: m.name ?? r.name,
    pool: m.pool ?? r.pool,
    state: m.status ?? r.state,
    slots: m.slots ?? r.slots,
    freeSlots: m.freeSlots ?? r.freeSlots,
    cpuPercent: m.cpuPercent,
    memoryRssBytes: m.memoryRssBytes,
    lastSeenAt: m.at ?? r.lastSeenAt,
    tasks: Array.isArray(m.jobs) ? m.jobs.map((j) => j.taskId) : r.tasks,
    jobs: Array.isArray(m.jobs) ? m.jobs : r.jobs,
    cgroup: m.cgroup ?? r.cgroup,
  });
  if (typeof m.cpuPercent === "number" && typeof m.memoryRssBytes === "number")
    addSample(r, m.at ?? new Date().toISOString(), m.cpuPercent, m.memoryRssBytes, "feed");
  changed();
}

/** Owners: the runner list (state, slots, the load of the last heartbeat); it also backs the chart where the feed pushes nothing. */
export async function loadRunners() {
  if (!can("project:admin")) {
    pollNote = runners.size ? "" : "Runners appear here as the edge reports their load; only owners can list them all.";
    return renderRunners();
  }
  let list;
  try {
    ({ runners: list } = await api("GET", projectPath("/runners")));
  } catch (err) {
    pollNote = err.status === 404 ? "This edge does not list runners yet." : `Runners unavailable: ${err.message}`;
    return renderRunners();
  }
  pollNote = list.length ? "" : "No runners registered. Start one with sfp-edge runner start --pool default.";
  const ids = new Set(list.map((r) => r.id));
  for (const [id, r] of runners) if (r.fromList && !ids.has(id)) runners.delete(id);
  for (const info of list) {
    const r = entry(info.id);
    Object.assign(r, {
      fromList: true,
      name: info.name,
      pool: info.pool,
      state: info.state,
      slots: info.slots,
      freeSlots: info.freeSlots,
      lastSeenAt: info.lastSeenAt,
      tasks: info.activeTasks ?? r.tasks,
    });
    if (info.resources) {
      r.cpuPercent = info.resources.cpuPercent;
      r.memoryRssBytes = info.resources.memoryRssBytes;
      addSample(r, info.lastSeenAt, info.resources.cpuPercent, info.resources.memoryRssBytes, "list");
    }
  }
  changed();
}

/** The runner that reports running `taskId` (its lease holder), if any runner we know of does. */
export function holderOf(taskId) {
  for (const r of runners.values()) if (r.tasks.includes(taskId)) return r;
  return null;
}

function memLimit(cgroup) {
  const max = cgroup?.memoryMaxBytes ?? cgroup?.memoryMax;
  return typeof max === "number" && max > 0 ? max : 0;
}

function cgroupText(cgroup) {
  if (!cgroup || typeof cgroup !== "object") return "";
  return Object.entries(cgroup)
    .filter(([, v]) => typeof v === "number" || typeof v === "string")
    .map(([k, v]) => `${k} ${typeof v === "number" && /bytes/i.test(k) ? bytes(v) : v}`)
    .join(", ");
}

function renderRunners() {
  const rows = [...runners.values()]
    .sort((a, b) => (a.pool === b.pool ? (a.name < b.name ? -1 : 1) : a.pool < b.pool ? -1 : 1))
    .map((r) => {
      const tr = document.createElement("tr");
      tr.dataset.id = r.id;
      const cpu = typeof r.cpuPercent === "number" ? `${Math.round(r.cpuPercent)}%` : "–";
      const mem = typeof r.memoryRssBytes === "number" ? `${Math.round(r.memoryRssBytes / 1048576)} MiB` : "–";
      const chart = el("td", "chart", sparkline(r.samples, memLimit(r.cgroup)));
      const cg = cgroupText(r.cgroup);
      if (cg) chart.title = `cgroup: ${cg}`;
      tr.append(
        cell(r.name),
        cell(r.pool),
        cell(r.state, `status ${r.state}`),
        cell(`${r.slots - r.freeSlots}/${r.slots}`),
        cell(cpu),
        cell(mem),
        chart,
        cell(time(r.lastSeenAt)),
      );
      return tr;
    });
  $("#runners tbody").replaceChildren(...rows);
  $("#runners-note").textContent = rows.length ? "" : pollNote;
}
