// The project's tasks: every task the dashboard has seen (the newest page, filtered pages, and each
// change the feed brings), shown newest first through the list's filters. Filters go to the server
// (GET …/tasks?status&type&org&source) so a match older than the newest page is found, and apply to
// live changes here, so a task that stops matching leaves the list at once.
import { api, projectPath } from "./api.js";
import { $, cell, el, KNOWN_STATUSES, miniBar, sourceKey, sourceText, statusText, TASK_TYPES, TERMINAL } from "./dom.js";

export const LIST_LIMIT = 100;
const FILTERS = ["status", "type", "org", "source"];

export const tasks = new Map();
/** Called with each task that changed (the task page and the pools-and-orgs view listen). */
export const taskListeners = new Set();
const filter = { status: "", type: "", org: "", source: "" };
/** Whether the server refused a filter (an older edge): then the list filters only what it has seen. */
let clientOnly = false;

/** Reads the newest page, with the list's filters when any is set. */
export async function loadTasks() {
  const query = new URLSearchParams({ limit: String(LIST_LIMIT) });
  for (const key of FILTERS) if (filter[key]) query.set(key, filter[key]);
  try {
    const { tasks: page } = await api("GET", projectPath(`/tasks?${query}`));
    clientOnly = false;
    for (const t of page) upsert(t);
  } catch (err) {
    if (err.status !== 400 || !FILTERS.some((k) => filter[k])) throw err;
    clientOnly = true;
  }
  renderTasks();
}

/** Keeps the newest version of each task; the feed and a reload may cross. */
export function upsert(task) {
  const old = tasks.get(task.id);
  if (old && old.version > task.version) return;
  tasks.set(task.id, task);
  scheduleRender();
  for (const listener of taskListeners) listener(task);
}

let renderQueued = false;
function scheduleRender() {
  if (renderQueued) return;
  renderQueued = true;
  queueMicrotask(() => {
    renderQueued = false;
    renderTasks();
  });
}

function matches(t) {
  if (filter.status && t.status !== filter.status) return false;
  if (filter.type && t.type !== filter.type) return false;
  if (filter.org && t.org !== filter.org) return false;
  if (filter.source) {
    const key = sourceKey(t.source);
    if (filter.source === "webhook" ? !key.startsWith("webhook") : key !== filter.source) return false;
  }
  return true;
}

const newestFirst = (a, b) => (a.createdAt === b.createdAt ? (a.id < b.id ? 1 : -1) : a.createdAt < b.createdAt ? 1 : -1);

export function renderTasks() {
  const shown = [...tasks.values()].filter(matches).sort(newestFirst).slice(0, LIST_LIMIT);
  const rows = shown.map((t) => {
    const tr = document.createElement("tr");
    tr.dataset.id = t.id;
    tr.dataset.status = t.status;
    const percent = TERMINAL.has(t.status) ? undefined : t.progress?.percent;
    const link = el("a", null, t.id);
    link.href = `#/tasks/${encodeURIComponent(t.id)}`;
    tr.append(
      el("td", "id", link),
      cell(t.type),
      cell(t.org),
      cell(sourceText(t.source), "source"),
      cell(statusText(t), `status ${t.status}`),
      miniBar(percent),
      cell(new Date(t.createdAt).toLocaleTimeString()),
    );
    tr.addEventListener("click", (ev) => {
      if (ev.target !== link) location.hash = `#/tasks/${encodeURIComponent(t.id)}`;
    });
    return tr;
  });
  $("#tasks tbody").replaceChildren(...rows);
  const filtered = FILTERS.some((k) => filter[k]);
  $("#tasks-empty").hidden = rows.length > 0 || filtered;
  $("#task-count").textContent = rows.length ? `(${rows.length}${filtered ? " matching" : ""})` : filtered ? "(none matching)" : "";
  $("#filters-note").textContent = !filtered
    ? ""
    : clientOnly
      ? "This edge does not filter the list: showing the matching tasks among those loaded."
      : "Filtered by the edge: the newest matching tasks, kept live.";
  refreshChoices();
}

/** The filter menus: the known statuses and types, the orgs, and every status and source seen (newer edges add statuses). */
let orgChoices = [];
export function setOrgChoices(aliases) {
  orgChoices = aliases;
  refreshChoices();
}

function refreshChoices() {
  const seen = [...tasks.values()];
  fill("status", [...new Set([...KNOWN_STATUSES, ...seen.map((t) => t.status)])]);
  fill("type", [...new Set([...TASK_TYPES, ...seen.map((t) => t.type)])]);
  fill("org", [...new Set([...orgChoices, ...seen.map((t) => t.org)])].sort());
  const sources = seen.map((t) => sourceKey(t.source)).filter((k) => k.startsWith("webhook:"));
  fill("source", ["api", "webhook", ...new Set(sources)]);
}

function fill(name, values) {
  const select = $(`#filters select[name="${name}"]`);
  const have = [...select.options].slice(1).map((o) => o.value);
  if (have.length === values.length && have.every((v, i) => v === values[i])) return;
  const current = select.value;
  const options = values.map((v) => {
    const o = document.createElement("option");
    o.value = v;
    o.textContent = name === "source" && v === "api" ? "API" : v.replace(/^webhook:/, "webhook ");
    return o;
  });
  select.replaceChildren(select.options[0], ...options);
  select.value = values.includes(current) ? current : "";
}

$("#filters").addEventListener("change", (ev) => {
  const name = ev.target.name;
  if (!FILTERS.includes(name)) return;
  filter[name] = ev.target.value;
  renderTasks();
  loadTasks().catch((err) => {
    $("#filters-note").textContent = `The list could not be read: ${err.message}`;
  });
});

$("#filters").addEventListener("reset", () => {
  for (const key of FILTERS) filter[key] = "";
  queueMicrotask(renderTasks);
});
