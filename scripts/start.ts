// `npm start`: the whole system on this machine. The Salesforce org double (in this process) with a
// `demo` org in the local credential store, the Caddy origin when `caddy` is installed, the edge and
// its actors in workerd (`wrangler dev`, offline), a dev project, and a runner manager. Prints where
// everything is and one command to try; Ctrl-C stops every process it started, and a second start
// reuses the secrets, the project, the runner's registration and the persisted actors.
//
// Settings (environment): SFP_STATE_DIR (default .sfp-edge/), SFP_EDGE_PORT (8787),
// SFP_SALESFORCE_PORT (8788), SFP_RUNNER_PORT (8790), SFP_ORIGIN_PORT (8443), SFP_NO_CADDY=1.
import { appendFileSync, rmSync } from "node:fs";
import { join, relative, resolve } from "node:path";
import { EdgeClient } from "../protocol/client.ts";
import { registerOrg } from "../runner/credentials/index.ts";
import { startSalesforceOrg, type SalesforceOrgDouble } from "../test/doubles/salesforce-org.ts";
import { killChild, stopChild, type Child } from "./start-processes.ts";
import { caddyInstalled, ensureDevProject, startCaddy, startEdge, startRunner, WORKER_SECRETS } from "./start-services.ts";
import { choosePort, ensureDevVars, ensureDir, ensureKeyFile, lockHeld, stateLayout, writeSecretFile } from "./start-state.ts";

const REPO_ROOT = resolve(import.meta.dirname, "..");
/** How long each child may take to stop on SIGTERM before its group is signalled, then killed. */
const STOP_GRACE_MS = { runner: 15_000, caddy: 5_000, edge: 10_000 };

const say = (line = "") => process.stdout.write(`${line}\n`);
const shown = (path: string) => (relative(process.cwd(), path).startsWith("..") ? path : relative(process.cwd(), path) || ".");

const children: Child[] = [];
let org: SalesforceOrgDouble | null = null;
let stopping: Promise<void> | null = null;
let lockFile: string | null = null;

/** Stops the children in the reverse order of their start (the runner drains first, the edge last). */
function stopAll(reason: string): Promise<void> {
  stopping ??= (async () => {
    say(`\nstopping (${reason})…`);
    for (const c of [...children].reverse()) {
      const grace = STOP_GRACE_MS[c.name as keyof typeof STOP_GRACE_MS] ?? 5_000;
      await stopChild(c, "SIGTERM", grace);
      say(`  ${c.name} stopped`);
    }
    await org?.close();
    if (lockFile) rmSync(lockFile, { force: true });
    say("stopped.");
  })();
  return stopping;
}

function onSignal(signal: NodeJS.Signals): void {
  if (stopping) {
    // A second Ctrl-C: no more waiting for drains.
    say(`\n${signal} again: killing every process now`);
    for (const c of children) killChild(c);
    return;
  }
  void stopAll(signal).then(() => process.exit(0));
}

async function main(): Promise<void> {
  process.on("SIGINT", onSignal);
  process.on("SIGTERM", onSignal);
  const notes: string[] = [];
  const layout = stateLayout(REPO_ROOT, process.env.SFP_STATE_DIR);
  ensureDir(layout.dir);
  ensureDir(layout.logs);
  const running = lockHeld(layout.lockFile);
  if (running) throw new Error(`npm start is already running with ${shown(layout.dir)} (pid ${running}); stop it first, or set SFP_STATE_DIR`);

  const ports = {
    edge: await choosePort(process.env, "SFP_EDGE_PORT", 8787, "edge", notes),
    salesforce: await choosePort(process.env, "SFP_SALESFORCE_PORT", 8788, "Salesforce double", notes),
    runner: await choosePort(process.env, "SFP_RUNNER_PORT", 8790, "runner manager", notes),
    origin: await choosePort(process.env, "SFP_ORIGIN_PORT", 8443, "Caddy origin", notes),
  };
  lockFile = layout.lockFile;
  const writeLock = () =>
    writeSecretFile(layout.lockFile, `${JSON.stringify({ pid: process.pid, children: Object.fromEntries(children.map((c) => [c.name, c.pid])) })}\n`);
  writeLock();
  const track = (c: Child) => {
    // Spawned while a Ctrl-C is already stopping the rest: it goes at once.
    if (stopping) return killChild(c);
    children.push(c);
    writeLock();
  };

  const secrets = ensureDevVars(layout.devVars, WORKER_SECRETS);
  const credentialsKey = ensureKeyFile(layout.credentialsKeyFile);
  say(`sfp-edge: starting the local stack (state in ${shown(layout.dir)}, logs in ${shown(layout.logs)}/*.log)`);

  org = await startSalesforceOrg({ port: ports.salesforce });
  // The double keeps every request in memory; the log gets method and path only (no tokens) and the memory is freed.
  const sfLog = join(layout.logs, "salesforce.log");
  setInterval(() => {
    const batch = org?.requests.splice(0) ?? [];
    if (batch.length)
      appendFileSync(sfLog, batch.map((r) => `${JSON.stringify({ time: new Date().toISOString(), method: r.method, path: r.url.split("?")[0] })}\n`).join(""));
  }, 1000).unref();

  let poolOrigin = `http://127.0.0.1:${ports.runner}`;
  let caddyCa: string | null = null;
  const useCaddy = process.env.SFP_NO_CADDY !== "1" && caddyInstalled();
  if (useCaddy) {
    const caddy = await startCaddy({
      track,
      repoRoot: REPO_ROOT,
      layout,
      port: ports.origin,
      managerAddress: `127.0.0.1:${ports.runner}`,
      originToken: secrets.ORIGIN_TOKEN,
    });
    poolOrigin = caddy.url;
    caddyCa = caddy.rootCa;
  } else {
    notes.push(
      `Caddy is ${process.env.SFP_NO_CADDY === "1" ? "switched off (SFP_NO_CADDY=1)" : "not installed (apt-get install -y caddy)"}: the edge wakes the runner manager directly at ${poolOrigin}`,
    );
  }

  const edge = await startEdge({ track, repoRoot: REPO_ROOT, layout, port: ports.edge, poolOrigin, extraCaFile: caddyCa });

  const dev = await ensureDevProject(edge.url, secrets.ADMIN_TOKEN, layout.projectFile);
  const owner = new EdgeClient(edge.url, dev.ownerToken);
  // The double's refresh token is new on every start, so the demo org is registered every time. (The
  // edge takes only https instance URLs as metadata; the double's is http, so only its org id goes there.)
  await registerOrg({
    alias: "demo",
    sfdxAuthUrl: org.authUrl,
    project: dev.project,
    config: { provider: "local", file: layout.credentialsFile, key: credentialsKey },
  });
  await owner.request("PUT", `/v1/projects/${dev.project}/orgs/demo`, { body: { orgId: org.orgId } });
  // Spent only when the runner holds no registration the edge still accepts (its state file is reused).
  const { body: reg } = await owner.request<{ token: string }>("POST", `/v1/projects/${dev.project}/registration-tokens`, {
    body: { pool: "default", expiresInSeconds: 600 },
  });
  const runner = await startRunner({
    track,
    repoRoot: REPO_ROOT,
    layout,
    edgeUrl: edge.url,
    registrationToken: reg.token,
    listenPort: ports.runner,
    originToken: secrets.ORIGIN_TOKEN,
    credentialsKey,
  });

  say("");
  say("sfp-edge is running");
  say(`  API         ${edge.url}  (contract: ${edge.url}/v1/openapi.json)`);
  say(`  dashboard   ${edge.url}/`);
  say(`  project     ${dev.project}  (${dev.reused ? "reused" : "created"}; kept in ${shown(layout.projectFile)})`);
  say(`  owner token ${dev.ownerToken}`);
  say(`  runner      ${runner.runnerId} in pool default, woken through ${poolOrigin}`);
  say(`  Salesforce  ${org.url}  (org double; "demo" is in the local credential store ${shown(layout.credentialsFile)})`);
  say(`  logs        ${shown(layout.logs)}/{edge,caddy,runner,salesforce}.log`);
  for (const n of notes) say(`  note: ${n}`);
  say("");
  say("Try:");
  say(`  npx sfp-edge login --url ${edge.url} --project ${dev.project} --token ${dev.ownerToken}`);
  say("  npx sfp-edge task create org-check --org demo --wait");
  say("");
  say("Ctrl-C stops everything.");

  // A service that dies on its own takes the stack down with it, rather than leaving half a system.
  for (const c of children) {
    void c.exited.then(({ code, signal }) => {
      if (stopping) return;
      say(`\n${c.name} exited (${signal ?? `code ${code}`}); see ${shown(c.logFile)}`);
      void stopAll(`${c.name} exited`).then(() => process.exit(1));
    });
  }
}

main().catch(async (err: unknown) => {
  process.stderr.write(`sfp-edge: ${err instanceof Error ? err.message : String(err)}\n`);
  await stopAll("start failed");
  process.exit(1);
});
