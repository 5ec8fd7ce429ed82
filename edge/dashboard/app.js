// The sfp-edge dashboard: plain DOM and ES modules (js/), no framework and no build step. It signs in
// with a project token kept in sessionStorage, asks the edge what the token may do (whoami), and
// shows two pages by hash route: the board (#/: tasks with filters, pools and orgs, runners with
// their load, notification endpoints) and a task's page (#/tasks/<id>). The project feed keeps both
// live (js/feed.js); a task page follows its own socket (js/task-page.js).
import { loadWhoami, session } from "./js/api.js";
import { $ } from "./js/dom.js";
import { loadEndpoints } from "./js/endpoints.js";
import { onFeed, startFeed } from "./js/feed.js";
import { loadOrgs, scheduleGlance } from "./js/glance.js";
import { loadRunners, runnerListeners, runnerMessage } from "./js/runners.js";
import { closeTaskPage, openTaskPage } from "./js/task-page.js";
import { loadTasks, taskListeners, upsert } from "./js/tasks.js";

const REFRESH_MS = 10_000;
let refreshTimer = 0;
let started = false;
let openTask = null;

function show(signedIn) {
  $("#sign-in").hidden = signedIn;
  $("#sign-out").hidden = !signedIn;
  $("#feed-state").hidden = !signedIn;
  $("#role").hidden = !signedIn;
  $("#project-name").textContent = signedIn ? session.project : "";
  if (!signedIn) {
    $("#board").hidden = true;
    $("#task-page").hidden = true;
  }
}

$("#sign-in-form").addEventListener("submit", async (ev) => {
  ev.preventDefault();
  const form = new FormData(ev.target);
  session.project = String(form.get("project")).trim();
  session.token = String(form.get("token")).trim();
  $("#sign-in-error").textContent = "";
  // Stored before start() shows the board: schedules.js reads the sign-in from here the moment it appears.
  sessionStorage.setItem("sfp.project", session.project);
  sessionStorage.setItem("sfp.token", session.token);
  try {
    await start();
  } catch (err) {
    sessionStorage.removeItem("sfp.token");
    $("#sign-in-error").textContent = err.status === 401 || err.status === 404 ? "That token does not open this project." : err.message;
    show(false);
  }
});

$("#sign-out").addEventListener("click", () => {
  sessionStorage.removeItem("sfp.project");
  sessionStorage.removeItem("sfp.token");
  location.reload();
});

function signedOut() {
  sessionStorage.removeItem("sfp.token");
  $("#sign-in-error").textContent = "The token was revoked or has expired; sign in again.";
  started = false;
  closeTaskPage();
  show(false);
}

async function start() {
  await loadTasks();
  // An edge without whoami (older than the dashboard) leaves the role unknown: every button stays hidden.
  await loadWhoami().catch((err) => {
    if (err.status === 401) throw err;
    session.role = "unknown";
  });
  started = true;
  show(true);
  const role = $("#role");
  role.textContent = session.role;
  role.dataset.role = session.role;
  startFeed(signedOut);
  refresh();
  clearInterval(refreshTimer);
  refreshTimer = setInterval(refresh, REFRESH_MS);
  route();
}

function refresh() {
  loadRunners();
  loadOrgs();
  loadEndpoints();
}

onFeed("task", upsert);
onFeed("runner", runnerMessage);
onFeed("relist", () => loadTasks().catch(() => {}));
taskListeners.add(scheduleGlance);
runnerListeners.add(scheduleGlance);

/** `#/tasks/<id>` is a task's page; `#task=<id>` (the link in notifications and commit statuses) becomes one; anything else is the board. */
function route() {
  if (!started) return;
  const legacy = /^#task=([^&]+)$/.exec(location.hash);
  if (legacy) {
    location.replace(`#/tasks/${legacy[1]}`);
    return route();
  }
  const m = /^#\/tasks\/([^/]+)$/.exec(location.hash);
  const taskId = m ? decodeURIComponent(m[1]) : null;
  $("#board").hidden = taskId !== null;
  $("#task-page").hidden = taskId === null;
  if (taskId === openTask) return;
  openTask = taskId;
  if (taskId) {
    openTaskPage(taskId);
    window.scrollTo(0, 0);
  } else closeTaskPage();
}
window.addEventListener("hashchange", route);

if (session.project && session.token) {
  start().catch(() => show(false));
} else {
  show(false);
}
