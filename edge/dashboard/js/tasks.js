// The project's tasks: the newest page from the list endpoint, kept live over the project feed.
import { api, openSocket, parseMessage, projectPath, RECONNECT_MS } from "./api.js";
import { $, cell, miniBar, statusText, TERMINAL } from "./dom.js";

export const LIST_LIMIT = 100;

export const tasks = new Map();
/** Called with each task that changed (the open task page listens). */
export const taskListeners = new Set();
let feed = null;
let selected = null;
let onSignedOut = () => {};
let opener = () => {};

/** What a click on a row does (the app opens the task). */
export function setOpener(fn) {
  opener = fn;
}

export function setSelected(id) {
  selected = id;
  renderTasks();
}

export async function loadTasks() {
  const { tasks: page } = await api("GET", projectPath(`/tasks?limit=${LIST_LIMIT}`));
  for (const t of page) upsert(t);
}

/** Keeps the newest version of each task; the feed and a reload may cross. */
export function upsert(task) {
  const old = tasks.get(task.id);
  if (old && old.version > task.version) return;
  tasks.set(task.id, task);
  renderTasks();
  for (const listener of taskListeners) listener(task);
}

function setFeed(text, cls) {
  const el = $("#feed-state");
  el.textContent = text;
  el.className = `pill ${cls}`;
}

export function startFeed(signedOut) {
  onSignedOut = signedOut;
  connectFeed(0);
}

async function connectFeed(attempt) {
  let ws;
  try {
    ws = await openSocket(projectPath("/ws"));
  } catch (err) {
    if (err.status === 401) return onSignedOut();
    return retryFeed(attempt);
  }
  feed = ws;
  ws.addEventListener("open", () => {
    setFeed("live", "live");
    // Anything that changed while we were away: read the list again once the feed is up.
    if (attempt > 0) loadTasks().catch(() => {});
  });
  ws.addEventListener("message", (ev) => {
    const msg = parseMessage(ev);
    if (msg?.type === "task") upsert(msg.task);
  });
  ws.addEventListener("close", () => {
    if (feed !== ws) return;
    setFeed("reconnecting…", "down");
    retryFeed(attempt + 1);
  });
}

function retryFeed(attempt) {
  setFeed("reconnecting…", "down");
  setTimeout(() => connectFeed(attempt + 1), RECONNECT_MS[Math.min(attempt, RECONNECT_MS.length - 1)]);
}

export function renderTasks() {
  const sorted = [...tasks.values()].sort((a, b) => (a.createdAt === b.createdAt ? (a.id < b.id ? 1 : -1) : a.createdAt < b.createdAt ? 1 : -1));
  const rows = sorted.slice(0, LIST_LIMIT).map((t) => {
    const tr = document.createElement("tr");
    tr.dataset.id = t.id;
    tr.dataset.status = t.status;
    if (selected === t.id) tr.className = "selected";
    const percent = TERMINAL.has(t.status) ? undefined : t.progress?.percent;
    tr.append(
      cell(t.id, "id"),
      cell(t.type),
      cell(t.org),
      cell(statusText(t), `status ${t.status}`),
      miniBar(percent),
      cell(new Date(t.createdAt).toLocaleTimeString()),
    );
    tr.addEventListener("click", () => opener(t.id));
    return tr;
  });
  $("#tasks tbody").replaceChildren(...rows);
  $("#tasks-empty").hidden = rows.length > 0;
  $("#task-count").textContent = rows.length ? `(${rows.length})` : "";
}
