// One task: its events and logs over its own socket, resuming after drops.
import { api, openSocket, parseMessage, RECONNECT_MS } from "./api.js";
import { $, statusText, TERMINAL } from "./dom.js";
import { setSelected, taskListeners, upsert } from "./tasks.js";

let detail = null;

taskListeners.add((task) => {
  if (detail?.taskId === task.id) renderDetailTask(task);
});

export async function openDetail(taskId) {
  closeDetail();
  const d = { taskId, lastSeq: 0, ws: null, closed: false, attempt: 0 };
  detail = d;
  $("#detail").hidden = false;
  $("#detail-title").textContent = taskId;
  $("#detail-events").replaceChildren();
  $("#detail-logs").textContent = "";
  $("#detail-error").textContent = "";
  setSelected(taskId);
  try {
    const { task } = await api("GET", `/v1/tasks/${encodeURIComponent(taskId)}`);
    if (detail === d) renderDetailTask(task);
  } catch (err) {
    $("#detail-error").textContent = err.message;
  }
  followTask(d);
}

export const detailOpen = () => detail !== null;

async function followTask(d) {
  let ws;
  try {
    ws = await openSocket(`/v1/tasks/${encodeURIComponent(d.taskId)}/ws`, d.lastSeq);
  } catch (err) {
    if (detail === d) $("#detail-error").textContent = err.message;
    return;
  }
  if (detail !== d) return ws.close();
  d.ws = ws;
  ws.addEventListener("open", () => {
    d.attempt = 0;
  });
  ws.addEventListener("message", (ev) => {
    const msg = parseMessage(ev);
    if (!msg || detail !== d) return;
    if (msg.type === "task") renderDetailTask(msg.task);
    // Resumed sockets replay from lastSeq; anything at or below it was shown already.
    if (msg.type === "event" && msg.event.seq > d.lastSeq) {
      d.lastSeq = msg.event.seq;
      renderEvent(msg.event);
    }
  });
  ws.addEventListener("close", () => {
    if (detail !== d || d.closed || d.finished) return;
    const wait = RECONNECT_MS[Math.min(d.attempt++, RECONNECT_MS.length - 1)];
    setTimeout(() => detail === d && followTask(d), wait);
  });
}

function renderDetailTask(task) {
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
      if (TERMINAL.has(e.status)) detail.finished = true;
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

export function closeDetail() {
  const d = detail;
  if (!d) return;
  d.closed = true;
  d.ws?.close(1000, "closed by the user");
  detail = null;
  $("#detail").hidden = true;
  setSelected(null);
}

$("#detail-close").addEventListener("click", closeDetail);
$("#detail-cancel").addEventListener("click", async () => {
  const d = detail;
  if (!d) return;
  try {
    const { task } = await api("POST", `/v1/tasks/${encodeURIComponent(d.taskId)}/cancel`);
    upsert(task);
  } catch (err) {
    $("#detail-error").textContent = err.message;
  }
});
