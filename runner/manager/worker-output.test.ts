// A worker's stdout and stderr reach the manager's log masked for its job's secrets: its org's
// credentials (which the manager handed it) and the tokens it reports having learned, in any form
// the masker knows, and split over lines.
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { afterAll, afterEach, beforeAll, beforeEach, expect, it } from "vitest";
import { EdgeRunnerApiDouble } from "../../test/doubles/edge-runner-api.ts";
import { storeBroker } from "../credentials/broker.ts";
import type { CredentialsConfig } from "../credentials/config.ts";
import { registerOrg } from "../credentials/index.ts";
import { startTestManager, stopTestManager, type TestManager } from "./testing.ts";

const PRYING_WORKER = resolve(import.meta.dirname, "..", "..", "test", "doubles", "prying-worker.ts");
const PROJECT = "prj_00000000000000000000000000";
const REFRESH = "5Aep861TSESvWeug_xvFHRBTTbf_YrTWgEyjBJrKfPgRSH4dvhLoFTj5n9V8PY";
const CLIENT_SECRET = "CLIENTSECRET9a8b7c6d5e";
/** What test/doubles/prying-worker.ts reports as learned and prints. */
const LEARNED = "00Dxx0000001gPL!AR8AQJXg5oej8jmqTest.learned/token+value=";

let dir: string;
let store: CredentialsConfig;
let edge: EdgeRunnerApiDouble;
let manager: TestManager | undefined;

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), "sfp-output-"));
  store = { provider: "local", file: join(dir, "credentials.json"), key: "output-test-store-key" };
  await registerOrg({ alias: "demo", sfdxAuthUrl: `force://3MVG9app:${CLIENT_SECRET}:${REFRESH}@a.my.salesforce.com`, config: store, project: PROJECT });
});
afterAll(() => rm(dir, { recursive: true, force: true }));
beforeEach(async () => {
  edge = await EdgeRunnerApiDouble.start();
});
afterEach(async () => {
  await stopTestManager(manager, edge);
  manager = undefined;
});

it("relays a worker's output with its org's secrets and its learned tokens masked, also when split over lines", async () => {
  manager = startTestManager(edge, { workerEntry: PRYING_WORKER, credentials: storeBroker(store) });
  const taskId = edge.enqueueTask({ payload: { probes: [{ project: PROJECT, alias: "demo" }], leak: true } });
  await edge.waitFor(() => edge.task(taskId).finish, 20_000, "finish");
  // Every line the worker printed has been relayed (the stream closed, held lines flushed).
  const relayed = () => manager?.logs.filter((l) => l.includes('"source":"worker"')) ?? [];
  await edge.waitFor(() => relayed().some((l) => l.includes("<- there")) && relayed().some((l) => l.includes("learned ***")), 10_000, "relayed output");
  const text = relayed().join("\n");
  expect(text).toContain("plain *** and ***");
  expect(text).toContain("split across lines: ***");
  for (const secret of [REFRESH, CLIENT_SECRET, LEARNED]) {
    for (const piece of [secret.slice(0, 10), secret.slice(-10), encodeURIComponent(secret).slice(0, 12).toLowerCase()]) {
      expect(text, `${piece} was relayed`).not.toContain(piece);
    }
  }
  expect(manager.logged("json line")[0]).toMatchObject({ value: "***", learned: "***", source: "worker", taskId });
});
