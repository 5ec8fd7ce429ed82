// A separate process holding many WebSocket subscribers of one task, so their CPU is not the
// server's. Told over IPC to connect, then reports each progress event's latency: the sender puts
// its monotonic clock (process.hrtime, system-wide on Linux) in the event's message.
interface Connect {
  cmd: "connect";
  url: string;
  token: string;
  count: number;
}
interface Collect {
  cmd: "collect";
  expected: number;
  timeoutMs: number;
}

interface Ev {
  seq: number;
  type: string;
  message?: string;
}

const sockets: WebSocket[] = [];
/** Events that came with a seq not above the socket's last one. */
let disorder = 0;
let samples: number[] = [];
let received = 0;

async function connect(m: Connect): Promise<void> {
  const opened: Promise<void>[] = [];
  for (let i = 0; i < m.count; i++) {
    const ws = new WebSocket(m.url, { headers: { authorization: `Bearer ${m.token}` } });
    sockets.push(ws);
    opened.push(
      new Promise<void>((resolve, reject) => {
        ws.addEventListener("message", function first(e) {
          if (String(e.data).includes('"hello"')) {
            ws.removeEventListener("message", first);
            resolve();
          }
        });
        ws.addEventListener("error", () => reject(new Error("socket error")));
      }),
    );
    // Batch frames (?batch=1) carry several events; every event's latency counts, and each socket
    // checks that seqs only rise (nothing twice, nothing out of order).
    let lastSeq = 0;
    ws.addEventListener("message", (e) => {
      const text = String(e.data);
      if (!text.includes('"progress"')) return;
      const at = process.hrtime.bigint();
      const msg = JSON.parse(text) as { type: string; seq?: number; event?: Ev; events?: Ev[] };
      const events = msg.type === "events" ? (msg.events ?? []) : msg.event ? [msg.event] : [];
      for (const ev of events) {
        if (ev.seq <= lastSeq) disorder++;
        lastSeq = ev.seq;
        if (ev.type !== "progress" || !ev.message) continue;
        samples.push(Number(at - BigInt(ev.message)) / 1e6);
        received++;
      }
    });
    // Open in slices so the server's accept loop is not one giant burst.
    if (i % 100 === 99) await Promise.all(opened.slice(i - 99));
  }
  await Promise.all(opened);
}

async function collect(m: Collect): Promise<void> {
  const deadline = Date.now() + m.timeoutMs;
  while (received < m.expected && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
  const out = samples;
  samples = [];
  const got = received;
  received = 0;
  process.send!({ done: true, received: got, samples: out, disorder, cpu: process.cpuUsage() });
  disorder = 0;
}

process.on("message", (m: Connect | Collect | { cmd: "exit" } | { cmd: "close" }) => {
  if (m.cmd === "connect")
    connect(m).then(
      () => process.send!({ connected: sockets.length, cpu: process.cpuUsage() }),
      (err) => process.send!({ error: String(err) }),
    );
  if (m.cmd === "collect") void collect(m);
  // One series' sockets go before the next connects, so each runs against the same number open.
  if (m.cmd === "close") {
    for (const ws of sockets.splice(0)) ws.close();
    process.send!({ closed: true });
  }
  if (m.cmd === "exit") {
    for (const ws of sockets) ws.close();
    setTimeout(() => process.exit(0), 200);
  }
});
process.send!({ up: true });
