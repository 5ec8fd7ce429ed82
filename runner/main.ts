// The runner manager's entry point: `node runner/main.ts`, configured by environment variables
// (runner/README.md lists them). First SIGTERM/SIGINT drains; a second one stops the running jobs.
import { Agent } from "./manager/agent.ts";
import { configFromEnv } from "./manager/config.ts";
import { createLogger } from "./manager/log.ts";
import { Metrics } from "./manager/metrics.ts";
import { createManagerServer, listen } from "./manager/server.ts";

async function main(): Promise<number> {
  const boot = createLogger();
  let config: ReturnType<typeof configFromEnv>;
  try {
    config = configFromEnv(process.env);
  } catch (err) {
    boot.error("invalid configuration", { error: err });
    return 2;
  }
  const log = createLogger({ level: config.logLevel, base: { runner: config.name } });
  log.addSecret(config.registrationToken);
  log.addSecret(config.originToken);

  // Read once, here, so that a misconfigured store stops the manager before it takes any job.
  const { credentialsConfigFromEnv, credentialsBrokerOptionsFromEnv, configSecrets } = await import("./credentials/index.ts");
  const { storeBroker } = await import("./credentials/broker.ts");
  let credentials: ReturnType<typeof credentialsConfigFromEnv>;
  let lookup: ReturnType<typeof credentialsBrokerOptionsFromEnv>;
  try {
    credentials = credentialsConfigFromEnv(process.env);
    lookup = credentialsBrokerOptionsFromEnv(process.env);
  } catch (err) {
    log.error("invalid credential-store configuration", { error: err });
    return 2;
  }
  for (const secret of configSecrets(credentials)) log.addSecret(secret);

  const metrics = new Metrics();
  // The store stays here: each worker asks for its own task's org and gets that alone.
  const agent = new Agent({ config, log, metrics, credentials: storeBroker(credentials, lookup) });
  const server = createManagerServer({
    agent,
    metrics,
    log,
    originToken: config.originToken,
    version: config.version,
    slots: config.slots,
  });
  try {
    const address = await listen(server, config.listen.host, config.listen.port);
    log.info("listening", { host: address.address, port: address.port, edgeUrl: config.edgeUrl, slots: config.slots, ephemeral: config.ephemeral });
  } catch (err) {
    log.error("cannot listen", { listen: `${config.listen.host}:${config.listen.port}`, error: err });
    return 1;
  }

  let signals = 0;
  const onSignal = (signal: NodeJS.Signals) => {
    signals++;
    if (signals === 1) agent.drain(`${signal} received`);
    else agent.cancelAll(`${signal} received again`);
  };
  process.on("SIGTERM", onSignal);
  process.on("SIGINT", onSignal);

  const code = await agent.run();
  server.closeAllConnections();
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return code;
}

process.exitCode = await main();
// Timers of abandoned edge calls must not hold the process open once the manager is done.
setTimeout(() => process.exit(), 100).unref();
