// A separate process holding many task sockets for B7 (hibernation): connects them, keeps each
// socket's last seq, drops them all, reconnects them all at once with ?after=<last seq> and reports
// how long each took to catch up with the version its new `hello` announced, and any gap.
interface IdleConnect {
  cmd: "connect" | "reconnect";
  base: string;
  token: string;
  taskIds: string[];
  perTask: number;
}

interface Sub {
  taskId: string;
  lastSeq: number;
  ws: WebSocket | null;
}

interface Ev {
  seq: number;
}

let subs: Sub[] = [];

/** Retries of sockets that failed or closed before catching up, as a real client retries. */
let retries = 0;
/** Why sockets were retried: the error's message or the close code and reason, counted. */
let reasons = new Map<string, number>();
const MAX_TRIES = 20;

/**
 * Opens one socket and resolves once it has every event up to its hello's lastSeq (ms taken, from
 * the first try); a socket that fails or closes before that is retried after a short random pause,
 * resuming from what it has.
 */
function open(base: string, token: string, sub: Sub, after: number | null, tries = 0, started = performance.now()): Promise<{ ms: number; gaps: number }> {
  return new Promise((resolve, reject) => {
    const query = after === null ? "?batch=1" : `?batch=1&after=${after}`;
    const ws = new WebSocket(`${base}/v1/tasks/${sub.taskId}/ws${query}`, { headers: { authorization: `Bearer ${token}` } });
    sub.ws = ws;
    let target = -1;
    let gaps = 0;
    let settled = false;
    const done = () => {
      if (settled || target < 0 || sub.lastSeq < target) return;
      settled = true;
      resolve({ ms: performance.now() - started, gaps });
    };
    const retry = (why: string, detail: string) => {
      if (settled) return;
      settled = true;
      reasons.set(detail, (reasons.get(detail) ?? 0) + 1);
      if (tries + 1 >= MAX_TRIES) return reject(new Error(`socket ${why} ${MAX_TRIES} times, last: ${detail}`));
      retries++;
      const resumeFrom = after === null && target < 0 ? null : sub.lastSeq;
      setTimeout(() => open(base, token, sub, resumeFrom, tries + 1, started).then(resolve, reject), 100 + Math.random() * 400);
    };
    ws.addEventListener("message", (e) => {
      const msg = JSON.parse(String(e.data)) as { type: string; lastSeq?: number; event?: Ev; events?: Ev[] };
      if (msg.type === "hello") {
        target = msg.lastSeq ?? 0;
        // A first connect starts at the current version; a reconnect replays what came after `after`.
        if (after === null) sub.lastSeq = target;
      }
      const events = msg.type === "events" ? (msg.events ?? []) : msg.type === "event" && msg.event ? [msg.event] : [];
      for (const ev of events) {
        if (ev.seq !== sub.lastSeq + 1) gaps++;
        sub.lastSeq = Math.max(sub.lastSeq, ev.seq);
      }
      done();
    });
    ws.addEventListener("error", (e) => retry("failed", `error: ${"message" in e ? String(e.message) : "unknown"}`));
    ws.addEventListener("close", (e) => retry("closed", `close ${e.code} ${e.reason}`.trim()));
  });
}

async function connectAll(m: IdleConnect, reconnect: boolean): Promise<{ ms: number[]; gaps: number; totalMs: number; retries: number; why: string }> {
  if (!reconnect) subs = m.taskIds.flatMap((taskId) => Array.from({ length: m.perTask }, () => ({ taskId, lastSeq: 0, ws: null })));
  const started = performance.now();
  const results: Promise<{ ms: number; gaps: number }>[] = [];
  for (const [i, sub] of subs.entries()) {
    results.push(open(m.base, m.token, sub, reconnect ? sub.lastSeq : null));
    // A first connect opens in slices, so the setup is not one giant burst; a reconnect is all at once.
    if (!reconnect && i % 200 === 199) await Promise.allSettled(results.slice(i - 199));
  }
  const settled = await Promise.allSettled(results);
  const why = [...reasons].map(([detail, n]) => `${n}× ${detail}`).join("; ");
  const tried = retries;
  retries = 0;
  reasons = new Map();
  const failed = settled.filter((r) => r.status === "rejected").length;
  if (failed) throw new Error(`${failed} of ${settled.length} sockets gave up after ${MAX_TRIES} tries (${tried} retries: ${why})`);
  const all = settled.flatMap((r) => (r.status === "fulfilled" ? [r.value] : []));
  return { ms: all.map((r) => r.ms), gaps: all.reduce((n, r) => n + r.gaps, 0), totalMs: performance.now() - started, retries: tried, why };
}

process.on("message", (m: IdleConnect | { cmd: "drop" } | { cmd: "exit" }) => {
  if (m.cmd === "connect" || m.cmd === "reconnect")
    connectAll(m, m.cmd === "reconnect").then(
      (r) => process.send?.({ connected: subs.length, ...r }),
      (err) => process.send?.({ error: String(err) }),
    );
  if (m.cmd === "drop") {
    for (const sub of subs) sub.ws?.close(1000, "bye");
    setTimeout(() => process.send?.({ dropped: subs.length }), 500);
  }
  if (m.cmd === "exit") {
    for (const sub of subs) sub.ws?.close();
    setTimeout(() => process.exit(0), 200);
  }
});
process.send?.({ up: true });
export {};
