// Small DOM helpers and the words the dashboard uses for a task's state.

export const TERMINAL = new Set(["succeeded", "failed", "canceled"]);

export const $ = (sel) => document.querySelector(sel);

export function cell(text, cls) {
  const td = document.createElement("td");
  td.textContent = text;
  if (cls) td.className = cls;
  return td;
}

export function miniBar(percent) {
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
export function statusText(t) {
  if (t.waitingFor) return `${t.status} · #${t.waitingFor.position} for ${t.waitingFor.org}`;
  if (t.status === "awaiting_approval") return "awaiting approval";
  return t.status;
}
