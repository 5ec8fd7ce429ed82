// The sfp-edge dashboard: plain DOM and ES modules (js/), no framework and no build step. It signs in
// with a project token kept in sessionStorage, lists the project's tasks and keeps them live over the
// project feed (js/tasks.js), follows one task's events and logs over its own socket (js/detail.js),
// and shows the runners' load (js/runners.js) and the notification endpoints (js/endpoints.js).
import { session } from "./js/api.js";
import { detailOpen, openDetail } from "./js/detail.js";
import { $ } from "./js/dom.js";
import { loadEndpoints } from "./js/endpoints.js";
import { loadRunners } from "./js/runners.js";
import { loadTasks, setOpener, startFeed, tasks } from "./js/tasks.js";

const RUNNERS_REFRESH_MS = 10_000;
let runnersTimer = 0;

function show(signedIn) {
  $("#sign-in").hidden = signedIn;
  $("#board").hidden = !signedIn;
  $("#sign-out").hidden = !signedIn;
  $("#feed-state").hidden = !signedIn;
  $("#project-name").textContent = signedIn ? session.project : "";
}

$("#sign-in-form").addEventListener("submit", async (ev) => {
  ev.preventDefault();
  const form = new FormData(ev.target);
  session.project = String(form.get("project")).trim();
  session.token = String(form.get("token")).trim();
  $("#sign-in-error").textContent = "";
  try {
    await start();
    sessionStorage.setItem("sfp.project", session.project);
    sessionStorage.setItem("sfp.token", session.token);
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

function signedOut() {
  sessionStorage.removeItem("sfp.token");
  $("#sign-in-error").textContent = "The token was revoked or has expired; sign in again.";
  show(false);
}

async function start() {
  await loadTasks();
  show(true);
  startFeed(signedOut);
  loadRunners();
  loadEndpoints();
  clearInterval(runnersTimer);
  runnersTimer = setInterval(() => {
    loadRunners();
    loadEndpoints();
  }, RUNNERS_REFRESH_MS);
  openLinkedTask();
}

setOpener(openDetail);

/** `#task=<id>`: the link in notifications and commit statuses opens that task. */
function openLinkedTask() {
  const m = /^#task=(tsk_[A-Za-z0-9]+)$/.exec(location.hash);
  if (m) openDetail(m[1]);
}
window.addEventListener("hashchange", () => {
  if (tasks.size || detailOpen()) openLinkedTask();
});

if (session.project && session.token) {
  start().catch(() => show(false));
} else {
  show(false);
}
