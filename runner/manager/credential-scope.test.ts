// A worker gets its one task's org and nothing else: not the store's own secret, not another org's
// credentials, whatever it asks over IPC — as a warm spare or as a worker forked for its job.
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { EdgeRunnerApiDouble } from "../../test/doubles/edge-runner-api.ts";
import { parseSfdxAuthUrl } from "../credentials/auth-url.ts";
import { storeBroker } from "../credentials/broker.ts";
import type { CredentialsConfig } from "../credentials/config.ts";
import { registerOrg } from "../credentials/index.ts";
import type { AuthAnswer, ManagerToWorker } from "../ipc.ts";
import { secretLadenEnv, startTestManager, stopTestManager, type TestManager } from "./testing.ts";

const PRYING_WORKER = resolve(import.meta.dirname, "..", "..", "test", "doubles", "prying-worker.ts");
/** The edge double's project; its tasks are all for the org `demo`. */
const PROJECT = "prj_00000000000000000000000000";
const STORE_KEY = "scope-test-local-store-key-4f1c9a";
const A = "force://3MVG9appA:SECRET_A_7f3e2d:REFRESH_A_5Aep861TSESvWeug_xvFHRBTTbf@a.my.salesforce.com";
const B = "force://3MVG9appB:SECRET_B_91c0aa:REFRESH_B_9Zq2LkWmPq0oXyTr8hVbNc3Ds@b.my.salesforce.com";
const B_OTHER_PROJECT = "force://3MVG9appC:SECRET_C_0d2b71:REFRESH_C_Kp4Wz8xQn1Ls7Vb2Jm6Hc0Ty@c.my.salesforce.com";

interface Report {
  pid: number;
  project: string;
  early: AuthAnswer;
  answers: Array<{ asked: { project: string; alias: string }; answer: AuthAnswer }>;
  received: ManagerToWorker[];
  env: Record<string, string>;
  argv: string[];
  execArgv: string[];
}

let dir: string;
let store: CredentialsConfig;
let edge: EdgeRunnerApiDouble;
let manager: TestManager | undefined;

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), "sfp-scope-"));
  store = { provider: "local", file: join(dir, "credentials.json"), key: STORE_KEY };
  await registerOrg({ alias: "demo", sfdxAuthUrl: A, config: store, project: PROJECT });
  await registerOrg({ alias: "org-b", sfdxAuthUrl: B, config: store, project: PROJECT });
  await registerOrg({ alias: "demo", sfdxAuthUrl: B_OTHER_PROJECT, config: store, project: "prj_other" });
  await registerOrg({ alias: "org-b", sfdxAuthUrl: B, config: store });
});
afterAll(() => rm(dir, { recursive: true, force: true }));

beforeEach(async () => {
  edge = await EdgeRunnerApiDouble.start();
});
afterEach(async () => {
  await stopTestManager(manager, edge);
  manager = undefined;
});

/** Everything a worker tries for: other orgs, its own org under other projects, its own org twice. */
const PROBES = [
  { project: PROJECT, alias: "org-b" },
  { project: "prj_other", alias: "demo" },
  { project: "default", alias: "org-b" },
  { project: PROJECT, alias: "demo" },
  { project: PROJECT, alias: "demo" },
  { project: PROJECT, alias: "org-b" },
];

async function runPryingJob(): Promise<Report> {
  const taskId = edge.enqueueTask({ payload: { probes: PROBES } });
  expect(edge.task(taskId).task).toMatchObject({ project: PROJECT, org: "demo" });
  const finish = await edge.waitFor(() => edge.task(taskId).finish, 20_000, "finish");
  expect(finish.body.outcome).toBe("succeeded");
  return finish.body.result as Report;
}

function expectOnlyItsOwnOrg(report: Report): void {
  const refused = (a: AuthAnswer) => "error" in a && a.error.code === "credentials_refused";
  // Before it had a task: refused.
  expect(refused(report.early), JSON.stringify(report.early)).toBe(true);
  // After start: its task's org, once; every other ask refused.
  expect(report.answers.map((a) => ("auth" in a.answer ? "auth" : a.answer.error.code))).toEqual([
    "credentials_refused",
    "credentials_refused",
    "credentials_refused",
    "auth",
    "credentials_refused",
    "credentials_refused",
  ]);
  expect(report.answers[3].answer).toEqual({ type: "auth", auth: parseSfdxAuthUrl(A) });
  // Exactly what crossed the IPC channel: the refusal, its task, the answers; nothing else.
  expect(report.received.map((m) => m.type)).toEqual(["auth", "start", "auth", "auth", "auth", "auth", "auth", "auth"]);
  const crossed = JSON.stringify(report.received);
  expect(crossed).toContain("REFRESH_A_");
  const visible = JSON.stringify({ crossed, env: report.env, argv: report.argv, execArgv: report.execArgv });
  for (const other of ["REFRESH_B_", "SECRET_B_", "REFRESH_C_", "SECRET_C_", STORE_KEY, "credentials.json"]) {
    expect(visible, `${other} reached the worker`).not.toContain(other);
  }
  expect(Object.keys(report.env).filter((n) => /^(SFP|INFISICAL|SUPABASE)_/i.test(n))).toEqual([]);
}

describe("a worker's reach into the credential store", () => {
  it("a warm spare gets nothing before its job, then only its task's org, once", async () => {
    manager = startTestManager(edge, { workerEntry: PRYING_WORKER, credentials: storeBroker(store), env: secretLadenEnv(edge.url) });
    const spare = await edge.waitFor(() => manager?.logged("spare ready")[0]?.pid as number | undefined, 15_000, "a ready spare");
    expect(manager.logged("refused a spare's credentials request")).toHaveLength(1);
    const report = await runPryingJob();
    expect(report.pid).toBe(spare);
    expectOnlyItsOwnOrg(report);
    expect(manager.logged("refused a worker's credentials request")).toHaveLength(5);
  });

  it("a worker forked for its job gets nothing before start, then only its task's org, once", async () => {
    manager = startTestManager(edge, { workerEntry: PRYING_WORKER, credentials: storeBroker(store), env: secretLadenEnv(edge.url) });
    // No spares: the job forks its own worker.
    await manager.agent.spares.close();
    const report = await runPryingJob();
    expect(manager.logged("worker spawned")).toHaveLength(1);
    expectOnlyItsOwnOrg(report);
    expect(manager.logged("refused a worker's credentials request")).toHaveLength(6);
  });
});
