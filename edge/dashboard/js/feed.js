// The project feed: every task's status changes, and (on edges that push them) runners' load. It
// resumes: messages carry a `seq`, a reconnect asks for `?after=SEQ`, and `{type:"reset"}` (the edge's
// replay window was passed) means the list must be read again. An edge without seqs gets a re-list
// after every reconnect instead.
import { openSocket, parseMessage, projectPath, RECONNECT_MS } from "./api.js";
import { $ } from "./dom.js";

const handlers = { task: [], runner: [], relist: [] };
let feed = null;
let lastSeq = 0;
let onSignedOut = () => {};

/** Registers a handler for `task` and `runner` messages, or `relist` (read the list again). */
export function onFeed(kind, fn) {
  handlers[kind].push(fn);
}

function emit(kind, value) {
  for (const fn of handlers[kind]) fn(value);
}

function setState(text, cls) {
  const node = $("#feed-state");
  node.textContent = text;
  node.className = `pill ${cls}`;
}

export function startFeed(signedOut) {
  onSignedOut = signedOut;
  connect(0);
}

async function connect(attempt) {
  let ws;
  try {
    ws = await openSocket(projectPath("/ws"), lastSeq > 0 ? lastSeq : undefined);
  } catch (err) {
    if (err.status === 401) return onSignedOut();
    return retry(attempt);
  }
  feed = ws;
  ws.addEventListener("open", () => {
    setState("live", "live");
    // Without seqs there is no replay: anything that changed while we were away comes from a re-list.
    if (attempt > 0 && lastSeq === 0) emit("relist");
  });
  ws.addEventListener("message", (ev) => {
    const msg = parseMessage(ev);
    if (!msg) return;
    if (typeof msg.seq === "number" && msg.seq > lastSeq) lastSeq = msg.seq;
    if (msg.type === "hello" && typeof msg.lastSeq === "number" && msg.lastSeq > lastSeq) lastSeq = msg.lastSeq;
    if (msg.type === "task" && msg.task) emit("task", msg.task);
    else if (msg.type === "runner" && msg.runner) emit("runner", msg.runner);
    else if (msg.type === "reset") {
      lastSeq = typeof msg.lastSeq === "number" ? msg.lastSeq : 0;
      emit("relist");
    }
  });
  ws.addEventListener("close", (ev) => {
    if (feed !== ws) return;
    if (ev.code === 4401) return onSignedOut();
    retry(attempt + 1);
  });
}

function retry(attempt) {
  setState("reconnecting…", "down");
  setTimeout(() => connect(attempt + 1), RECONNECT_MS[Math.min(attempt, RECONNECT_MS.length - 1)]);
}
