// The sfp-edge dashboard: plain DOM, no framework. It signs in with a project token kept in
// sessionStorage, lists the project's tasks and keeps them live over the project feed, follows one
// task's events and logs over its own socket (resuming after drops), and shows the runners' load.
// Browsers cannot set an Authorization header on a WebSocket, so every socket opens with a
// single-use ticket from POST /v1/projects/:project/ws-tickets.

const TERMINAL = new Set(["succeeded", "failed", "canceled"]);
const RECONNECT_MS = [500, 1000, 2000, 5000];
const PING_MS = 25_000;
const RUNNERS_REFRESH_MS = 10_000;
const LIST_LIMIT = 100;

const $ = (sel) => document.querySelector(sel);
const state = {
  project: sessionStorage.getItem("sfp.project") ?? "",
  token: sessionStorage.getItem("sfp.token") ?? "",
  tasks: new Map(),
  feed: null,
  detail: null,
  runnersTimer: 0,
};

// ---- HTTP ------------------------------------------------------------------------------------------

class ApiError extends Error {
  constructor(status, code, message) {
    super(message);
    this.status = status;
    this.code = code;
  }
}

async function api(method, path, body) {
  const headers = { authorization: `Bearer ${state.token}`, accept: "application/json" };
  if (body !== undefined) headers["content-type"] = "application/json";
  const res = await fetch(path, { method, headers, body: body === undefined ? undefined : JSON.stringify(body) });
  const text = await res.text();
  let parsed;
  try {
    parsed = text ? JSON.parse(text) : undefined;
  } catch {
    parsed = undefined;
  }
  if (!res.ok) throw new ApiError(res.status, parsed?.error?.code ?? "error", parsed?.error?.message ?? `HTTP ${res.status}`);
  return parsed;
}

const projectPath = (rest) => `/v1/projects/${encodeURIComponent(state.project)}${rest}`;

/** Opens a socket with a fresh ticket; `after` resumes a task socket past the last seq we hold. */
async function openSocket(path, after) {
  const { ticket } = await api("POST", projectPath("/ws-tickets"));
  const url = new URL(path, location.href);
  url.protocol = location.protocol === "https:" ? "wss:" : "ws:";
  url.searchParams.set("ticket", ticket);
  if (after !== undefined) url.searchParams.set("after", String(after));
  const ws = new WebSocket(url);
  const ping = setInterval(() => ws.readyState === WebSocket.OPEN && ws.send("ping"), PING_MS);
  ws.addEventListener("close", () => clearInterval(ping));
  return ws;
}

function parseMessage(ev) {
  if (typeof ev.data !== "string" || ev.data === "pong") return null;
  try {
    return JSON.parse(ev.data);
  } catch {
    return null;
  }
}

// ---- sign-in ---------------------------------------------------------------------------------------

function show(signedIn) {
  $("#sign-in").hidden = signedIn;
  $("#board").hidden = !signedIn;
  $("#sign-out").hidden = !signedIn;
  $("#feed-state").hidden = !signedIn;
  $("#project-name").textContent = signedIn ? state.project : "";
}

$("#sign-in-form").addEventListener("submit", async (ev) => {
  ev.preventDefault();
  const form = new FormData(ev.target);
  state.project = String(form.get("project")).trim();
  state.token = String(form.get("token")).trim();
  $("#sign-in-error").textContent = "";
  try {
    await start();
    sessionStorage.setItem("sfp.project", state.project);
    sessionStorage.setItem("sfp.token", state.token);
  } catch (err) {
    $("#sign-in-error").textContent = err.status === 401 || err.status === 404 ? "That token does not open this project." : err.message;
    show(false);
  }
});

$("#sign-out").addEventListener("click", () => {
  sessionStorage.removeItem("sfp.project");
  sessionStorage.removeItem("sfp.token");
  location.reload();
});

async function start() {
  await loadTasks();
  show(true);
  connectFeed(0);
  loadRunners();
  loadEndpoints();
  clearInterval(state.runnersTimer);
  state.runnersTimer = setInterval(() => {
    loadRunners();
    loadEndpoints();
  }, RUNNERS_REFRESH_MS);
  openLinkedTask();
}

/** `#task=<id>`: the link in notifications and commit statuses opens that task. */
function openLinkedTask() {
  const m = /^#task=(tsk_[A-Za-z0-9]+)$/.exec(location.hash);
  if (m) openDetail(m[1]);
}
window.addEventListener("hashchange", () => {
  if (state.tasks.size || state.detail) openLinkedTask();
});

// ---- tasks and the project feed ------------------------------------------------------------------

async function loadTasks() {
  const { tasks } = await api("GET", projectPath(`/tasks?limit=${LIST_LIMIT}`));
  for (const t of tasks) upsert(t);
}

/** Keeps the newest version of each task; the feed and a reload may cross. */
function upsert(task) {
  const old = state.tasks.get(task.id);
  if (old && old.version > task.version) return;
  state.tasks.set(task.id, task);
  renderTasks();
  if (state.detail?.taskId === task.id) renderDetailTask(task);
}

function setFeed(text, cls) {
  const el = $("#feed-state");
  el.textContent = text;
  el.className = `pill ${cls}`;
}

async function connectFeed(attempt) {
  let ws;
  try {
    ws = await openSocket(projectPath("/ws"));
  } catch (err) {
    if (err.status === 401) return signedOut();
    return retryFeed(attempt);
  }
  state.feed = ws;
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
    if (state.feed !== ws) return;
    setFeed("reconnecting…", "down");
    retryFeed(attempt + 1);
  });
}

function retryFeed(attempt) {
  setFeed("reconnecting…", "down");
  setTimeout(() => connectFeed(attempt + 1), RECONNECT_MS[Math.min(attempt, RECONNECT_MS.length - 1)]);
}

function signedOut() {
  sessionStorage.removeItem("sfp.token");
  $("#sign-in-error").textContent = "The token was revoked or has expired; sign in again.";
  show(false);
}

function cell(text, cls) {
  const td = document.createElement("td");
  td.textContent = text;
  if (cls) td.className = cls;
  return td;
}

function miniBar(percent) {
  const td = document.createElement("td");
  if (percent === undefined) return td;
  const bar = document.createElement("span");
  bar.className = "mini";
  bar.title = `${percent}%`;
  const fill = document.createElement("i");
  fill.style.width = `${Math.max(0, Math.min(100, percent))}%`;
  bar.append(fill);
  td.append(bar, ` ${Math.round(percent)}%`);
  return td;
}

/** A task's status as the list shows it: where a queued task waits for its org's lock, or until when it awaits approval. */
function statusText(t) {
  if (t.waitingFor) return `${t.status} · #${t.waitingFor.position} for ${t.waitingFor.org}`;
  if (t.status === "awaiting_approval") return "awaiting approval";
  return t.status;
}

function renderTasks() {
  const tasks = [...state.tasks.values()].sort((a, b) => (a.createdAt === b.createdAt ? (a.id < b.id ? 1 : -1) : a.createdAt < b.createdAt ? 1 : -1));
  const rows = tasks.slice(0, LIST_LIMIT).map((t) => {
    const tr = document.createElement("tr");
    tr.dataset.id = t.id;
    tr.dataset.status = t.status;
    if (state.detail?.taskId === t.id) tr.className = "selected";
    const percent = TERMINAL.has(t.status) ? undefined : t.progress?.percent;
    tr.append(
      cell(t.id, "id"),
      cell(t.type),
      cell(t.org),
      cell(statusText(t), `status ${t.status}`),
      miniBar(percent),
      cell(new Date(t.createdAt).toLocaleTimeString()),
    );
    tr.addEventListener("click", () => openDetail(t.id));
    return tr;
  });
  $("#tasks tbody").replaceChildren(...rows);
  $("#tasks-empty").hidden = rows.length > 0;
  $("#task-count").textContent = rows.length ? `(${rows.length})` : "";
}

// ---- one task: events and logs over its socket -----------------------------------------------------

async function openDetail(taskId) {
  closeDetail();
  const detail = { taskId, lastSeq: 0, ws: null, closed: false, attempt: 0 };
  state.detail = detail;
  $("#detail").hidden = false;
  $("#detail-title").textContent = taskId;
  $("#detail-events").replaceChildren();
  $("#detail-logs").textContent = "";
  $("#detail-error").textContent = "";
  renderTasks();
  try {
    const { task } = await api("GET", `/v1/tasks/${encodeURIComponent(taskId)}`);
    if (state.detail === detail) renderDetailTask(task);
  } catch (err) {
    $("#detail-error").textContent = err.message;
  }
  followTask(detail);
}

async function followTask(detail) {
  let ws;
  try {
    ws = await openSocket(`/v1/tasks/${encodeURIComponent(detail.taskId)}/ws`, detail.lastSeq);
  } catch (err) {
    if (state.detail === detail) $("#detail-error").textContent = err.message;
    return;
  }
  if (state.detail !== detail) return ws.close();
  detail.ws = ws;
  ws.addEventListener("open", () => {
    detail.attempt = 0;
  });
  ws.addEventListener("message", (ev) => {
    const msg = parseMessage(ev);
    if (!msg || state.detail !== detail) return;
    if (msg.type === "task") renderDetailTask(msg.task);
    // Resumed sockets replay from lastSeq; anything at or below it was shown already.
    if (msg.type === "event" && msg.event.seq > detail.lastSeq) {
      detail.lastSeq = msg.event.seq;
      renderEvent(msg.event);
    }
  });
  ws.addEventListener("close", () => {
    if (state.detail !== detail || detail.closed || detail.finished) return;
    const wait = RECONNECT_MS[Math.min(detail.attempt++, RECONNECT_MS.length - 1)];
    setTimeout(() => state.detail === detail && followTask(detail), wait);
  });
}

function renderDetailTask(task) {
  const detail = state.detail;
  if (!detail || detail.taskId !== task.id) return;
  $("#detail-title").textContent = `${task.id} · ${task.type} on ${task.org}`;
  const st = $("#detail-status");
  st.textContent = statusText(task);
  st.className = `status ${task.status}`;
  $("#detail-cancel").hidden = TERMINAL.has(task.status);
  $("#detail-error").textContent = task.error ? `${task.error.code}: ${task.error.message}` : "";
  if (TERMINAL.has(task.status) && detail.lastSeq >= task.version) detail.finished = true;
  renderProgress(task.progress, task.status);
}

function renderProgress(progress, status) {
  const bar = $("#detail-progress");
  bar.hidden = !progress || progress.percent === undefined || TERMINAL.has(status);
  if (bar.hidden) return;
  bar.firstElementChild.style.width = `${progress.percent}%`;
  bar.lastElementChild.textContent = `${Math.round(progress.percent)}% ${[progress.step, progress.message].filter(Boolean).join(": ")}`;
}

function renderEvent(e) {
  const li = document.createElement("li");
  li.value = e.seq;
  const time = new Date(e.at).toLocaleTimeString();
  switch (e.type) {
    case "status":
      li.textContent = `${time} status ${e.status} (attempt ${e.attempt})${e.error ? ` ${e.error.code}: ${e.error.message}` : ""}`;
      if (TERMINAL.has(e.status)) state.detail.finished = true;
      {
        const st = $("#detail-status");
        st.textContent = e.status;
        st.className = `status ${e.status}`;
        $("#detail-cancel").hidden = TERMINAL.has(e.status);
      }
      break;
    case "progress":
      li.textContent = `${time} progress ${e.percent ?? ""}${e.percent !== undefined ? "%" : ""} ${[e.step, e.message].filter(Boolean).join(": ")}`;
      renderProgress(e, "running");
      break;
    case "log": {
      li.textContent = `${time} ${e.lines.length} log line${e.lines.length === 1 ? "" : "s"}`;
      const pre = $("#detail-logs");
      const stick = pre.scrollTop + pre.clientHeight >= pre.scrollHeight - 4;
      pre.textContent += e.lines.map((l) => `${l}\n`).join("");
      if (stick) pre.scrollTop = pre.scrollHeight;
      break;
    }
    case "result":
      li.textContent = `${time} result ${JSON.stringify(e.result)}`;
      break;
    case "artifact":
      li.textContent = `${time} artifact ${e.artifact.name} (${e.artifact.size} bytes)`;
      break;
    case "lock":
      li.textContent =
        e.state === "held"
          ? `${time} lock: holds org ${e.org}`
          : `${time} lock: waiting for org ${e.org}, position ${e.position}${e.holder ? `, held by ${e.holder}` : ""}`;
      $("#detail-status").textContent = e.state === "held" ? "queued" : `queued · #${e.position} for ${e.org}`;
      break;
    case "approval":
      li.textContent = `${time} approval ${e.decision}${e.by ? ` by ${e.by}` : ""}${e.expiresAt && e.decision === "required" ? ` (until ${new Date(e.expiresAt).toLocaleString()})` : ""}`;
      break;
    default:
      li.textContent = `${time} ${e.type}`;
  }
  $("#detail-events").append(li);
}

function closeDetail() {
  const detail = state.detail;
  if (!detail) return;
  detail.closed = true;
  detail.ws?.close(1000, "closed by the user");
  state.detail = null;
  $("#detail").hidden = true;
  renderTasks();
}

$("#detail-close").addEventListener("click", closeDetail);
$("#detail-cancel").addEventListener("click", async () => {
  const detail = state.detail;
  if (!detail) return;
  try {
    const { task } = await api("POST", `/v1/tasks/${encodeURIComponent(detail.taskId)}/cancel`);
    upsert(task);
  } catch (err) {
    $("#detail-error").textContent = err.message;
  }
});

// ---- runners ---------------------------------------------------------------------------------------

async function loadRunners() {
  const note = $("#runners-note");
  let runners;
  try {
    ({ runners } = await api("GET", projectPath("/runners")));
  } catch (err) {
    $("#runners tbody").replaceChildren();
    note.textContent =
      err.status === 404 ? "This edge does not list runners yet." : err.status === 403 ? "Only owners see the runners." : `Runners unavailable: ${err.message}`;
    return;
  }
  note.textContent = runners.length ? "" : "No runners registered. Start one with sfp-edge runner start --pool default.";
  const rows = runners.map((r) => {
    const tr = document.createElement("tr");
    const busy = r.slots - r.freeSlots;
    const cpu = r.resources ? `${Math.round(r.resources.cpuPercent)}%` : "–";
    const mem = r.resources ? `${Math.round(r.resources.memoryRssBytes / 1048576)} MiB` : "–";
    tr.append(
      cell(r.name),
      cell(r.pool),
      cell(r.state, `status ${r.state}`),
      cell(`${busy}/${r.slots}`),
      cell(cpu),
      cell(mem),
      cell(new Date(r.lastSeenAt).toLocaleTimeString()),
    );
    return tr;
  });
  $("#runners tbody").replaceChildren(...rows);
}

// ---- notification endpoints ---------------------------------------------------------------------

/** Owners see each outbound endpoint with its state and its newest delivery (docs/API.md "Notifications"). */
async function loadEndpoints() {
  const note = $("#endpoints-note");
  let endpoints;
  try {
    ({ endpoints } = await api("GET", projectPath("/notification-endpoints")));
  } catch (err) {
    $("#endpoints tbody").replaceChildren();
    note.textContent = err.status === 403 ? "Only owners see the notification endpoints." : `Notification endpoints unavailable: ${err.message}`;
    return;
  }
  note.textContent = endpoints.length ? "" : "No notification endpoints. Add one with sfp-edge notify put.";
  const rows = await Promise.all(
    endpoints.map(async (e) => {
      const tr = document.createElement("tr");
      tr.dataset.name = e.name;
      let last = "none yet";
      try {
        const { deliveries } = await api("GET", projectPath(`/notification-endpoints/${encodeURIComponent(e.name)}/deliveries?limit=1`));
        const d = deliveries[0];
        if (d) {
          const code = d.lastResponseCode === null ? "no answer" : `HTTP ${d.lastResponseCode}`;
          const when = d.lastAttemptAt ? new Date(d.lastAttemptAt).toLocaleTimeString() : "not yet sent";
          last = `${d.event} ${d.status} (${d.attempts} attempt${d.attempts === 1 ? "" : "s"}, ${code}, ${when})`;
        }
      } catch (err) {
        last = `unavailable: ${err.message}`;
      }
      const stateText = e.enabled ? "enabled" : `disabled${e.disabledReason ? `: ${e.disabledReason}` : ""}`;
      tr.append(cell(e.name), cell(hostOf(e.url)), cell(stateText, `status ${e.enabled ? "succeeded" : "failed"}`), cell(last));
      return tr;
    }),
  );
  $("#endpoints tbody").replaceChildren(...rows);
}

function hostOf(url) {
  try {
    return new URL(url).host;
  } catch {
    return url;
  }
}

// ---- boot ------------------------------------------------------------------------------------------

if (state.project && state.token) {
  start().catch(() => show(false));
} else {
  show(false);
}
