// The project's runners with their load (owners only: the list is an owner route).
import { api, projectPath } from "./api.js";
import { $, cell } from "./dom.js";

export async function loadRunners() {
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
