// The dashboard's session and its calls to the edge: JSON requests with the project token, and
// WebSockets opened with a single-use ticket (browsers cannot set Authorization on an upgrade).

export const RECONNECT_MS = [500, 1000, 2000, 5000];
const PING_MS = 25_000;

/** Who is signed in: kept in this tab's sessionStorage only. `permissions` come from the edge (whoami). */
export const session = {
  project: sessionStorage.getItem("sfp.project") ?? "",
  token: sessionStorage.getItem("sfp.token") ?? "",
  role: "",
  permissions: new Set(),
};

/** Asks the edge who this token is; the buttons a page shows follow its answer, never a guess. */
export async function loadWhoami() {
  const me = await api("GET", projectPath("/whoami"));
  session.role = me.role;
  session.permissions = new Set(me.permissions);
}

export const can = (permission) => session.permissions.has(permission);

export class ApiError extends Error {
  constructor(status, code, message) {
    super(message);
    this.status = status;
    this.code = code;
  }
}

export async function api(method, path, body) {
  const headers = { authorization: `Bearer ${session.token}`, accept: "application/json" };
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

/** A text answer (task logs): its status, Content-Range and body; errors as ApiError. */
export async function apiText(path, headers = {}) {
  const res = await fetch(path, { headers: { authorization: `Bearer ${session.token}`, ...headers } });
  const text = await res.text();
  if (!res.ok && res.status !== 416) {
    let parsed;
    try {
      parsed = JSON.parse(text);
    } catch {
      parsed = undefined;
    }
    throw new ApiError(res.status, parsed?.error?.code ?? "error", parsed?.error?.message ?? `HTTP ${res.status}`);
  }
  return { status: res.status, text, range: res.headers.get("content-range") };
}

/** Downloads a file that needs the bearer token (an artifact) through a short-lived object URL. */
export async function download(path, name) {
  const res = await fetch(path, { headers: { authorization: `Bearer ${session.token}` } });
  if (!res.ok) throw new ApiError(res.status, "error", `download failed: HTTP ${res.status}`);
  const url = URL.createObjectURL(await res.blob());
  const a = document.createElement("a");
  a.href = url;
  a.download = name;
  a.click();
  setTimeout(() => URL.revokeObjectURL(url), 10_000);
}

export const projectPath = (rest) => `/v1/projects/${encodeURIComponent(session.project)}${rest}`;

/** Opens a socket with a fresh ticket; `after` resumes a task socket past the last seq we hold. */
export async function openSocket(path, after) {
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

export function parseMessage(ev) {
  if (typeof ev.data !== "string" || ev.data === "pong") return null;
  try {
    return JSON.parse(ev.data);
  } catch {
    return null;
  }
}
