// A task's own page (#/tasks/<id>): its header (status, type, org, who or what made it, attempt,
// lease holder), a live progress bar and resource line (a finished task: its stored peaks), the event
// stream and the log following live over the task socket (resumed with ?after= after a drop), the result and artifacts once they
// exist, and the buttons the token's role allows: cancel (owner, member), approve and reject (owner,
// approver) while the task awaits approval.
import { api, can, download, openSocket, parseMessage, RECONNECT_MS } from "./api.js";
import { $, bytes, el, sourceText, statusText, TERMINAL, time } from "./dom.js";
import { holderOf, runnerListeners } from "./runners.js";
import { eventText } from "./task-events.js";
import { catchUpLog, logEvent, newLog } from "./task-log.js";
import { taskListeners, upsert } from "./tasks.js";

let page = null;
const taskPath = (id, rest = "") => `/v1/tasks/${encodeURIComponent(id)}${rest}`;

taskListeners.add((summary) => {
  // The feed's summary may be ahead of the socket for a moment (or the socket may be reconnecting).
  if (page?.task && page.taskId === summary.id && summary.version > page.task.version) {
    page.task = { ...page.task, ...summary };
    render();
    // A summary carries no result: when it is the one that says the task ended, read the whole task.
    if (TERMINAL.has(summary.status) && !page.finished) finish(page);
  }
});
runnerListeners.add(() => page?.task && renderFacts());

export async function openTaskPage(taskId) {
  closeTaskPage();
  const p = { taskId, task: null, lastSeq: 0, ws: null, closed: false, finished: false, attempt: 0, log: newLog(), artifactsShown: -1 };
  page = p;
  $("#task-title").textContent = taskId;
  $("#task-status").textContent = "";
  $("#task-facts").replaceChildren();
  $("#task-events").replaceChildren();
  $("#task-log").textContent = "";
  $("#task-log-note").textContent = "";
  $("#task-error").textContent = "";
  $("#task-resources").hidden = true;
  $("#task-outcome").hidden = true;
  $("#task-progress").hidden = true;
  for (const b of ["#task-cancel", "#task-approve", "#task-reject"]) $(b).hidden = true;
  try {
    const { task } = await api("GET", taskPath(taskId));
    if (page !== p) return;
    p.task = task;
    render();
    await catchUpLog(p.log, taskId);
  } catch (err) {
    if (page === p) $("#task-error").textContent = err.message;
    if (err.status === 404 || err.status === 401) return;
  }
  if (page === p) follow(p);
}

export function closeTaskPage() {
  const p = page;
  if (!p) return;
  p.closed = true;
  p.ws?.close(1000, "closed by the user");
  page = null;
}

async function follow(p) {
  let ws;
  try {
    ws = await openSocket(taskPath(p.taskId, "/ws"), p.lastSeq);
  } catch (err) {
    if (page === p) $("#task-error").textContent = err.message;
    return;
  }
  if (page !== p) return ws.close();
  p.ws = ws;
  ws.addEventListener("open", () => {
    p.attempt = 0;
  });
  ws.addEventListener("message", (ev) => {
    const msg = parseMessage(ev);
    if (!msg || page !== p) return;
    if (msg.type === "task" && msg.task) {
      p.task = msg.task;
      render();
    } else if (msg.type === "event" && msg.event.seq > p.lastSeq) {
      // Resumed sockets replay from lastSeq; anything at or below it was shown already.
      p.lastSeq = msg.event.seq;
      onEvent(p, msg.event);
    } else if (msg.type === "resources") {
      renderResources(msg);
    }
  });
  ws.addEventListener("close", () => {
    if (page !== p || p.closed || p.finished) return;
    const wait = RECONNECT_MS[Math.min(p.attempt++, RECONNECT_MS.length - 1)];
    setTimeout(() => page === p && follow(p), wait);
  });
}

function onEvent(p, e) {
  const li = el("li", `event ${e.type}`, eventText(e));
  li.value = e.seq;
  $("#task-events").append(li);
  if (e.type === "log") logEvent(p.log, e.lines);
  const task = p.task;
  // A replayed event the task we hold already includes changes nothing (its status would go back in time).
  if (!task || e.seq <= task.version) {
    if (task && TERMINAL.has(task.status) && p.lastSeq >= task.version) p.finished = true;
    return;
  }
  task.version = e.seq;
  switch (e.type) {
    case "status":
      task.status = e.status;
      task.attempt = e.attempt;
      if (e.status !== "queued") delete task.waitingFor;
      if (e.error) task.error = e.error;
      if (TERMINAL.has(e.status)) finish(p);
      break;
    case "progress":
      task.progress = { percent: e.percent, step: e.step, message: e.message };
      break;
    case "result":
      task.result = e.result;
      break;
    case "artifact":
      task.artifacts = [...(task.artifacts ?? []).filter((a) => a.name !== e.artifact.name), e.artifact];
      break;
    case "lock":
      if (e.state === "waiting") task.waitingFor = { org: e.org, position: e.position, holder: e.holder ?? null };
      else delete task.waitingFor;
      break;
  }
  render();
}

/** The task ended: read it once more for its result, error and artifacts as stored. */
async function finish(p) {
  p.finished = true;
  try {
    const { task } = await api("GET", taskPath(p.taskId));
    if (page !== p) return;
    p.task = task;
    render();
  } catch (err) {
    if (page === p) $("#task-error").textContent = err.message;
  }
}

function render() {
  const task = page?.task;
  if (!task) return;
  $("#task-title").textContent = `${task.id} · ${task.type} on ${task.org}`;
  const st = $("#task-status");
  st.textContent = statusText(task);
  st.className = `status ${task.status}`;
  st.dataset.status = task.status;
  renderFacts();
  renderProgress(task);
  renderPeaks(task);
  renderActions(task);
  $("#task-error").textContent = task.error ? `${task.error.code}: ${task.error.message}` : "";
  renderOutcome(task);
}

function renderFacts() {
  const task = page.task;
  const holder = holderOf(task.id);
  const leased = task.status === "running" || task.status === "canceling";
  const facts = [
    ["Status", statusText(task)],
    ["Type", task.type],
    ["Org", task.org],
    ["Pool", task.pool],
    ["Priority", task.priority],
    ["Created by", sourceText(task.source)],
    ["Attempt", `${task.attempt} of ${task.maxAttempts}`],
    ["Lease holder", leased ? (holder ? `${holder.name} (${holder.id})` : "a runner (not reported to this token yet)") : "none"],
    ["Created", time(task.createdAt)],
    ["Started", time(task.startedAt)],
    ["Finished", time(task.finishedAt)],
  ];
  if (task.commit) facts.push(["Commit", `${task.commit.repo}@${task.commit.sha.slice(0, 12)}`]);
  if (task.approval)
    facts.push([
      "Approval",
      task.approval.decision ? `${task.approval.decision} by ${task.approval.by}` : `needed by ${new Date(task.approval.expiresAt).toLocaleString()}`,
    ]);
  $("#task-facts").replaceChildren(
    ...facts.flatMap(([k, v]) => {
      const dd = el("dd", null, v);
      dd.dataset.fact = k.toLowerCase().replace(/ /g, "-");
      return [el("dt", null, k), dd];
    }),
  );
}

function renderProgress(task) {
  const bar = $("#task-progress");
  const progress = task.progress;
  bar.hidden = !progress || progress.percent === undefined || TERMINAL.has(task.status);
  if (bar.hidden) return;
  bar.dataset.percent = String(progress.percent);
  bar.firstElementChild.style.width = `${progress.percent}%`;
  bar.lastElementChild.textContent = `${Math.round(progress.percent)}% ${[progress.step, progress.message].filter(Boolean).join(": ")}`;
}

function renderResources(m) {
  const line = $("#task-resources");
  line.hidden = false;
  line.dataset.cpu = String(m.cpuPercent);
  line.textContent =
    `CPU ${Math.round(m.cpuPercent)}% · ${bytes(m.memoryRssBytes)} now` +
    (m.peakCpuPercent !== undefined ? ` · peak ${Math.round(m.peakCpuPercent)}% · ${bytes(m.peakMemoryRssBytes)}` : "") +
    ` (${time(m.at)})`;
}

/** A finished task gets no more `resources` messages: its stored peaks (`resources` of the task) stand instead. */
function renderPeaks(task) {
  const r = task.resources;
  if (!r || !TERMINAL.has(task.status)) return;
  const line = $("#task-resources");
  line.hidden = false;
  line.dataset.peakCpu = String(r.peakCpuPercent);
  line.dataset.peakMemory = String(r.peakMemoryRssBytes);
  line.textContent = `Peak CPU ${Math.round(r.peakCpuPercent)}% · ${bytes(r.peakMemoryRssBytes)} (last sampled ${time(r.at)})`;
}

function renderActions(task) {
  $("#task-cancel").hidden = !can("task:cancel") || TERMINAL.has(task.status) || task.status === "canceling";
  const approvable = can("task:approve") && task.status === "awaiting_approval";
  $("#task-approve").hidden = !approvable;
  $("#task-reject").hidden = !approvable;
}

function renderOutcome(task) {
  const hasResult = task.result !== undefined;
  const artifacts = task.artifacts ?? [];
  $("#task-outcome").hidden = !hasResult && artifacts.length === 0 && !TERMINAL.has(task.status);
  $("#task-result").textContent = hasResult ? JSON.stringify(task.result, null, 2) : TERMINAL.has(task.status) ? "(no result)" : "(not yet)";
  if (page.artifactsShown !== artifacts.length) {
    page.artifactsShown = artifacts.length;
    loadArtifacts(page);
  }
}

async function loadArtifacts(p) {
  let list = [];
  try {
    ({ artifacts: list } = await api("GET", taskPath(p.taskId, "/artifacts")));
  } catch (err) {
    if (page === p) $("#task-artifacts-note").textContent = `Artifacts unavailable: ${err.message}`;
    return;
  }
  if (page !== p) return;
  $("#task-artifacts-note").textContent = list.length ? "" : "No artifacts.";
  $("#task-artifacts tbody").replaceChildren(
    ...list.map((a) => {
      const button = el("button", null, "Download");
      button.type = "button";
      button.addEventListener("click", () =>
        download(taskPath(p.taskId, `/artifacts/${encodeURIComponent(a.name)}`), a.name).catch((err) => {
          $("#task-error").textContent = err.message;
        }),
      );
      const tr = el(
        "tr",
        null,
        el("td", null, a.name),
        el("td", null, bytes(a.size)),
        el("td", null, a.contentType),
        el("td", null, time(a.storedAt)),
        el("td", null, button),
      );
      tr.dataset.name = a.name;
      return tr;
    }),
  );
}

/** The buttons: each POSTs, and the answer's task is shown at once (the socket confirms it). */
function action(selector, rest) {
  $(selector).addEventListener("click", async () => {
    const p = page;
    if (!p) return;
    $(selector).disabled = true;
    try {
      const { task } = await api("POST", taskPath(p.taskId, rest));
      upsert(task);
      if (page === p && task.version >= (p.task?.version ?? 0)) {
        p.task = { ...p.task, ...task };
        render();
      }
    } catch (err) {
      if (page === p) $("#task-error").textContent = err.message;
    } finally {
      $(selector).disabled = false;
    }
  });
}
action("#task-cancel", "/cancel");
action("#task-approve", "/approve");
action("#task-reject", "/reject");
