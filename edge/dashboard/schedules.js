// The dashboard's schedules panel (issue 15): each schedule of the project with its cron, timezone,
// task and next run. Self-contained beside app.js: it reads the same sign-in from sessionStorage and
// refreshes while the board is shown.

const REFRESH_MS = 10_000;
const $ = (sel) => document.querySelector(sel);

function signIn() {
  const project = sessionStorage.getItem("sfp.project");
  const token = sessionStorage.getItem("sfp.token");
  return project && token ? { project, token } : null;
}

function cell(text, cls) {
  const td = document.createElement("td");
  td.textContent = text;
  if (cls) td.className = cls;
  return td;
}

/** A slot as the reader's local time, with the UTC instant on hover. */
function when(iso) {
  const td = cell(new Date(iso).toLocaleString());
  td.title = iso;
  return td;
}

async function loadSchedules() {
  const who = signIn();
  if (!who || $("#board").hidden) return;
  const note = $("#schedules-note");
  let schedules;
  try {
    const res = await fetch(`/v1/projects/${encodeURIComponent(who.project)}/schedules`, {
      headers: { authorization: `Bearer ${who.token}`, accept: "application/json" },
    });
    const body = await res.json();
    if (!res.ok) throw new Error(body?.error?.message ?? `HTTP ${res.status}`);
    schedules = body.schedules;
  } catch (err) {
    $("#schedules tbody").replaceChildren();
    note.textContent = `Schedules unavailable: ${err.message}`;
    return;
  }
  note.textContent = schedules.length ? "" : 'No schedules. Add one with sfp-edge schedule put nightly --cron "0 22 * * 1-5" --type run-tests --org demo.';
  const rows = schedules.map((s) => {
    const tr = document.createElement("tr");
    tr.dataset.name = s.name;
    const next = s.enabled && s.nextRunAt ? when(s.nextRunAt) : cell("paused", "status canceled");
    tr.append(cell(s.name), cell(`${s.cron} (${s.timezone})`), cell(`${s.task.type} on ${s.task.org}`), next);
    return tr;
  });
  $("#schedules tbody").replaceChildren(...rows);
}

// Loads as soon as the board appears (sign-in), then every REFRESH_MS while it is shown.
new MutationObserver(() => loadSchedules()).observe($("#board"), { attributes: true, attributeFilter: ["hidden"] });
setInterval(loadSchedules, REFRESH_MS);
loadSchedules();
