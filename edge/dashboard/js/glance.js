// Pools and orgs at a glance: per pool its runners, slots in use and the tasks queued and running
// there; per org its pool, kind, running and waiting tasks, and which tasks hold its deploy lock.
// Task counts cover the tasks this page has seen: the newest page and every change since sign-in.
import { api, projectPath } from "./api.js";
import { $, cell, el, LOCK_TYPES, TERMINAL } from "./dom.js";
import { runners } from "./runners.js";
import { setOrgChoices, tasks } from "./tasks.js";

let orgs = [];

export async function loadOrgs() {
  try {
    ({ orgs } = await api("GET", projectPath("/orgs")));
  } catch {
    return;
  }
  setOrgChoices(orgs.map((o) => o.alias));
  renderGlance();
}

let queued = false;
/** Re-renders once per burst of changes (a feed replay brings many). */
export function scheduleGlance() {
  if (queued) return;
  queued = true;
  setTimeout(() => {
    queued = false;
    renderGlance();
  }, 50);
}

const active = (t) => t.status === "running" || t.status === "canceling";
/** Queued, awaiting approval, or a status this page does not know yet (treated as unfinished). */
const waiting = (t) => !TERMINAL.has(t.status) && !active(t);

function taskLink(id) {
  const a = el("a", "id", `${id.slice(0, 12)}…`);
  a.href = `#/tasks/${encodeURIComponent(id)}`;
  a.title = id;
  return a;
}

function renderGlance() {
  const live = [...tasks.values()].filter((t) => !TERMINAL.has(t.status));
  const pools = new Map();
  const pool = (name) => {
    if (!pools.has(name)) pools.set(name, { runners: 0, used: 0, slots: 0, queued: 0, running: 0 });
    return pools.get(name);
  };
  for (const o of orgs) pool(o.pool);
  for (const r of runners.values()) {
    if (r.state === "offline") continue;
    const p = pool(r.pool || "default");
    p.runners += 1;
    p.slots += r.slots;
    p.used += r.slots - r.freeSlots;
  }
  for (const t of live) {
    const p = pool(t.pool);
    if (active(t)) p.running += 1;
    else if (waiting(t)) p.queued += 1;
  }
  $("#pools tbody").replaceChildren(
    ...[...pools.entries()]
      .sort(([a], [b]) => (a < b ? -1 : 1))
      .map(([name, p]) => {
        const tr = document.createElement("tr");
        tr.dataset.pool = name;
        tr.append(cell(name), cell(String(p.runners)), cell(p.slots ? `${p.used}/${p.slots}` : "–"), cell(String(p.queued)), cell(String(p.running)));
        return tr;
      }),
  );
  const aliases = [...new Set([...orgs.map((o) => o.alias), ...live.map((t) => t.org)])].sort();
  $("#orgs tbody").replaceChildren(
    ...aliases.map((alias) => {
      const org = orgs.find((o) => o.alias === alias);
      const mine = live.filter((t) => t.org === alias);
      const holders = mine.filter((t) => active(t) && LOCK_TYPES.has(t.type));
      const kind = org ? [org.isProduction ? "production" : "sandbox", org.protected ? "protected" : ""].filter(Boolean).join(", ") : "–";
      const tr = document.createElement("tr");
      tr.dataset.org = alias;
      tr.append(
        cell(alias),
        cell(org?.pool ?? "–"),
        cell(kind),
        cell(String(mine.filter(active).length)),
        cell(String(mine.filter(waiting).length)),
        el("td", null, ...(holders.length ? holders.map((t) => taskLink(t.id)) : ["–"])),
      );
      return tr;
    }),
  );
  $("#glance-note").textContent = "Task counts cover the newest tasks and every change since you signed in.";
}
