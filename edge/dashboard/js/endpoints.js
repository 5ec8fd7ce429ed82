// Owners see each outbound notification endpoint with its state and its newest delivery (docs/API.md "Notifications").
import { api, projectPath } from "./api.js";
import { $, cell } from "./dom.js";

export async function loadEndpoints() {
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
