// Issue 11, "unbounded reads": GET /v1/tasks/:id/logs answers at most LOG_PAGE_BYTES per response,
// ending at a line's end, with 206 and a Content-Range that says how much remains.
import { env, runInDurableObject } from "cloudflare:test";
import { describe, expect, it } from "vitest";
import { LOG_PAGE_BYTES, type LogPage } from "../../actors/task-events.ts";
import { appendLog } from "./drive.ts";
import { api, createTask, setup } from "./helpers.ts";

const utf8 = new TextEncoder();
const bytes = (s: string) => utf8.encode(s).length;

/** 70 lines of 16,000 characters (the runner's line limit is 16 KiB): 1,120,070 bytes, over one page. */
const LINE = 16_000;
const bigLog = () => Array.from({ length: 70 }, (_, i) => `${String(i).padStart(4, "0")}${"x".repeat(LINE - 4)}`);

function contentRange(res: { headers: Headers }): { start: number; end: number; total: number } {
  const m = /^bytes (\d+)-(\d+)\/(\d+)$/.exec(res.headers.get("content-range") ?? "");
  if (!m) throw new Error(`no Content-Range in ${res.headers.get("content-range")}`);
  return { start: Number(m[1]), end: Number(m[2]), total: Number(m[3]) };
}

describe("task logs, paged", () => {
  it("answers a log over one page with 206 and its first page, ending at a line's end, then the rest from Range", async () => {
    const { project, owner } = await setup();
    const t = await createTask(project, owner);
    const lines = bigLog();
    await appendLog(t.id, lines);
    const whole = lines.map((l) => `${l}\n`).join("");
    const total = bytes(whole);
    expect(total).toBeGreaterThan(LOG_PAGE_BYTES);

    const first = await api("GET", `/v1/tasks/${t.id}/logs`, { token: owner });
    expect(first.status).toBe(206);
    const r1 = contentRange(first);
    expect(r1).toMatchObject({ start: 0, total });
    expect(bytes(first.body)).toBe(r1.end + 1);
    expect(bytes(first.body)).toBeLessThanOrEqual(LOG_PAGE_BYTES);
    expect(first.body.endsWith("\n")).toBe(true);
    // As many whole lines as fit: 65 of 16,001 bytes.
    expect(first.body.split("\n").length - 1).toBe(Math.floor(LOG_PAGE_BYTES / (LINE + 1)));

    const rest = await api("GET", `/v1/tasks/${t.id}/logs`, { token: owner, headers: { range: `bytes=${r1.end + 1}-` } });
    expect(rest.status).toBe(206);
    expect(contentRange(rest)).toEqual({ start: r1.end + 1, end: total - 1, total });
    expect(first.body + rest.body).toBe(whole);
  });

  it("caps a read from the middle of a line too, starting at the requested byte", async () => {
    const { project, owner } = await setup();
    const t = await createTask(project, owner);
    const lines = bigLog();
    await appendLog(t.id, [...lines, ...lines]);
    const from = 10;
    const res = await api("GET", `/v1/tasks/${t.id}/logs`, { token: owner, headers: { range: `bytes=${from}-` } });
    expect(res.status).toBe(206);
    const r = contentRange(res);
    expect(r.start).toBe(from);
    expect(r.end + 1 - from).toBeLessThanOrEqual(LOG_PAGE_BYTES);
    expect(r.end).toBeLessThan(r.total - 1);
    expect(res.body.startsWith(lines[0].slice(from))).toBe(true);
    expect(bytes(res.body)).toBe(r.end + 1 - from);
  });

  it("still answers a log under one page whole with 200, and 416 past its end", async () => {
    const { project, owner } = await setup();
    const t = await createTask(project, owner);
    await appendLog(t.id, ["one", "two"]);
    const res = await api("GET", `/v1/tasks/${t.id}/logs`, { token: owner });
    expect(res.status).toBe(200);
    expect(res.body).toBe("one\ntwo\n");
    expect(res.headers.get("content-range")).toBeNull();
    const past = await api("GET", `/v1/tasks/${t.id}/logs`, { token: owner, headers: { range: "bytes=8-" } });
    expect(past.status).toBe(416);
    expect(past.body.error).toMatchObject({ code: "range_not_satisfiable" });
    expect(past.headers.get("content-range")).toBe("bytes */8");
  });

  it("cuts a line longer than the page at a character boundary and moves on from there", async () => {
    const { project, owner } = await setup();
    const t = await createTask(project, owner);
    await appendLog(t.id, ["αβγ", "δ"]); // 2 bytes a letter: "αβγ\n" is 7 bytes, "δ\n" 3
    const read = (from: number, max: number) =>
      runInDurableObject(env.TASK.get(env.TASK.idFromName(t.id)), (instance) =>
        (instance as unknown as { store: { readLog(from: number, max: number): LogPage } }).store.readLog(from, max),
      );
    expect(await read(0, 3)).toEqual({ text: "α", start: 0, end: 2, total: 10 });
    expect(await read(2, 3)).toEqual({ text: "β", start: 2, end: 4, total: 10 });
    expect(await read(4, 5)).toEqual({ text: "γ\n", start: 4, end: 7, total: 10 });
    expect(await read(4, 6)).toEqual({ text: "γ\nδ\n", start: 4, end: 10, total: 10 });
    // Not even one character fits: the page still moves on by one.
    expect(await read(0, 1)).toEqual({ text: "α", start: 0, end: 2, total: 10 });
  });
});
