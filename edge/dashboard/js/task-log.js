// A task's log on its page: caught up over HTTP (GET /v1/tasks/:id/logs, its tail when long), then
// followed through the `log` events of the task socket. The log is exactly the events' lines, each
// ending in "\n", in seq order — so each event's byte range is known, and a line already read over
// HTTP is never shown twice, whether the socket replays it or not.
import { apiText } from "./api.js";
import { $ } from "./dom.js";

/** The most of a long log the page reads at first: its last 256 KiB. */
const TAIL_BYTES = 256 * 1024;
const utf8 = new TextEncoder();

/** Per open page: `shown`, the log bytes on screen up to; `events`, the bytes the socket's log events covered. */
export function newLog() {
  return { shown: 0, events: 0 };
}

function total(range) {
  const m = /\/(\d+)$/.exec(range ?? "");
  return m ? Number(m[1]) : undefined;
}

function write(text) {
  const pre = $("#task-log");
  const stick = pre.scrollTop + pre.clientHeight >= pre.scrollHeight - 4;
  pre.textContent += text;
  if (stick) pre.scrollTop = pre.scrollHeight;
}

/** Reads the log so far (its tail past TAIL_BYTES) and shows it. */
export async function catchUpLog(log, taskId) {
  const path = `/v1/tasks/${encodeURIComponent(taskId)}/logs`;
  let answer = await apiText(path);
  const size = total(answer.range) ?? utf8.encode(answer.text).length;
  let from = 0;
  if (answer.status === 206 && size > TAIL_BYTES) {
    from = size - TAIL_BYTES;
    answer = await apiText(path, { range: `bytes=${from}-` });
  }
  let text = answer.status === 416 ? "" : answer.text;
  let end = from + utf8.encode(text).length;
  if (from > 0) {
    // Started inside a line: show from the next whole one.
    const cut = text.indexOf("\n") + 1;
    text = text.slice(cut);
    $("#task-log-note").textContent = `(the last ${Math.round((size - from) / 1024)} KiB of ${Math.round(size / 1024)} KiB)`;
  }
  // A long log may take more than one answer to reach its end.
  for (let pages = 0; answer.status === 206 && end < size && pages < 4; pages++) {
    answer = await apiText(path, { range: `bytes=${end}-` });
    if (answer.status === 416) break;
    text += answer.text;
    end += utf8.encode(answer.text).length;
  }
  $("#task-log").textContent = text;
  log.shown = end;
  const pre = $("#task-log");
  pre.scrollTop = pre.scrollHeight;
}

/** A `log` event from the socket: shows whatever part of its lines is not on screen yet. */
export function logEvent(log, lines) {
  const chunk = lines.map((l) => `${l}\n`).join("");
  const encoded = utf8.encode(chunk);
  const start = log.events;
  log.events += encoded.length;
  if (log.events <= log.shown) return;
  write(start >= log.shown ? chunk : new TextDecoder().decode(encoded.subarray(log.shown - start)));
  log.shown = log.events;
}
