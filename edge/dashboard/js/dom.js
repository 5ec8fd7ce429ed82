// Small DOM helpers and the words the dashboard uses for a task's state.

export const TERMINAL = new Set(["succeeded", "failed", "canceled"]);
/** The statuses this dashboard knows; others (newer edges add some) are shown as they come and treated as unfinished. */
export const KNOWN_STATUSES = ["queued", "awaiting_approval", "running", "canceling", "succeeded", "failed", "canceled"];
export const TASK_TYPES = ["deploy", "validate", "quick-deploy", "retrieve", "run-tests", "query", "org-check"];
/** Task types that take their org's lock (docs/API.md "The org lock"). */
export const LOCK_TYPES = new Set(["deploy", "validate", "quick-deploy"]);

export const $ = (sel) => document.querySelector(sel);

/** An element with a class and children (strings become text). */
export function el(tag, cls, ...children) {
  const node = document.createElement(tag);
  if (cls) node.className = cls;
  node.append(...children.filter((c) => c !== undefined && c !== null));
  return node;
}

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

/** Who or what made a task: an API token, or a webhook source's delivery. */
export function sourceText(source) {
  if (!source) return "";
  if (source.kind === "api") return `API (${source.tokenId})`;
  if (source.kind === "webhook") return `webhook ${source.sourceName ?? source.sourceId} · ${source.event}`;
  return source.kind ?? "";
}

/** The list filter's value for a task's source: `api`, `webhook:<name>`, or `webhook` for a source without a name. */
export function sourceKey(source) {
  if (source?.kind === "webhook") return source.sourceName ? `webhook:${source.sourceName}` : "webhook";
  return source?.kind ?? "";
}

export function bytes(n) {
  if (n === undefined || n === null) return "–";
  if (n < 1024) return `${n} B`;
  if (n < 1048576) return `${(n / 1024).toFixed(1)} KiB`;
  if (n < 1073741824) return `${Math.round(n / 1048576)} MiB`;
  return `${(n / 1073741824).toFixed(2)} GiB`;
}

export const time = (iso) => (iso ? new Date(iso).toLocaleTimeString() : "–");
