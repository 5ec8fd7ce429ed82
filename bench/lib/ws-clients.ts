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

const sockets: WebSocket[] = [];
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
    ws.addEventListener("message", (e) => {
      const text = String(e.data);
      if (!text.includes('"progress"')) return;
      const at = process.hrtime.bigint();
      const sent = /"message":"(\d+)"/.exec(text);
      if (!sent) return;
      samples.push(Number(at - BigInt(sent[1])) / 1e6);
      received++;
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
  process.send!({ done: true, received: got, samples: out, cpu: process.cpuUsage() });
}

process.on("message", (m: Connect | Collect | { cmd: "exit" }) => {
  if (m.cmd === "connect")
    connect(m).then(
      () => process.send!({ connected: sockets.length }),
      (err) => process.send!({ error: String(err) }),
    );
  if (m.cmd === "collect") void collect(m);
  if (m.cmd === "exit") {
    for (const ws of sockets) ws.close();
    setTimeout(() => process.exit(0), 200);
  }
});
process.send!({ up: true });
