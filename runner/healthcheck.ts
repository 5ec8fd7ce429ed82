// The container's HEALTHCHECK: GET /healthz on the manager's own listener (SFP_RUNNER_LISTEN).
export {}; // an ES module: top-level await
const listen = process.env.SFP_RUNNER_LISTEN || "127.0.0.1:8790";
const at = listen.lastIndexOf(":");
const host = listen.slice(0, at).replace(/^\[|\]$/g, "");
const port = listen.slice(at + 1);
const target = host === "0.0.0.0" || host === "::" || host === "" ? "127.0.0.1" : host;
try {
  const res = await fetch(`http://${target.includes(":") ? `[${target}]` : target}:${port}/healthz`, { signal: AbortSignal.timeout(2_000) });
  process.exit(res.ok ? 0 : 1);
} catch {
  process.exit(1);
}
