// A deploy and a validate from a repository, through the worker process as the manager forks it: the
// test plays the manager (the task's org, and the token of the repository the task names), a real git
// server serves the fixture project, and the Salesforce double reads the zip the worker converted.
import { fork } from "node:child_process";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { freePort } from "../../test/doubles/free-port.ts";
import type { Component } from "../../test/doubles/metadata-package.ts";
import { startSalesforceOrg, type SalesforceOrgDouble } from "../../test/doubles/salesforce-org.ts";
import { parseSfdxAuthUrl } from "../credentials/auth-url.ts";
import type { ManagerToWorker, RepoAnswer, SourceSettings, WorkerToManager } from "../ipc.ts";
import type { Task } from "../../protocol/task.ts";
import { testTask } from "../testing-task.ts";
import { DELTA, FIXTURE_COMPONENTS, type FixtureServer, startFixtureServer, TOKEN } from "../source/testing.ts";

const WORKER = fileURLToPath(new URL("./main.ts", import.meta.url));
const task = (type: "deploy" | "validate", payload: Record<string, unknown>) => testTask(type, payload);
type Done = Extract<WorkerToManager, { type: "done" }>;

/** What a deploy held, as type → sorted members (deleted ones apart), like a package.xml. */
function byType(components: Component[], deleted: boolean): Record<string, string[]> {
  const out: Record<string, string[]> = {};
  for (const c of components.filter((x) => Boolean(x.deleted) === deleted)) out[c.componentType] = [...(out[c.componentType] ?? []), c.fullName];
  for (const members of Object.values(out)) members.sort();
  return out;
}

describe("the worker deploys an sfdx project at a git commit (issue 12)", () => {
  let fx: FixtureServer;
  let org: SalesforceOrgDouble;
  let scratch: string;
  beforeAll(async () => {
    [fx, org] = await Promise.all([startFixtureServer(), startSalesforceOrg()]);
    org.controls.deployPolls = 1;
    scratch = await mkdtemp(join(tmpdir(), "sfp-worker-source-"));
  });
  afterAll(async () => {
    await Promise.all([fx.close(), org.close(), rm(scratch, { recursive: true, force: true })]);
  });

  /** Runs one job in a forked worker; `repo` is the manager's answer to its ask for the repository token. */
  async function runJob(t: Task, repo: (url: string) => RepoAnswer, source: SourceSettings = { cacheDir: join(scratch, "cache"), allowLocalHttp: true }) {
    const child = fork(WORKER, [], { env: { PATH: process.env.PATH ?? "" }, execArgv: [], serialization: "json", stdio: ["ignore", "pipe", "pipe", "ipc"] });
    const messages: WorkerToManager[] = [];
    let output = "";
    child.stdout?.on("data", (d: Buffer) => (output += d.toString()));
    child.stderr?.on("data", (d: Buffer) => (output += d.toString()));
    const done = new Promise<Done>((resolve) => {
      child.on("message", (m: WorkerToManager) => {
        messages.push(m);
        if (m.type === "ready") {
          const start: ManagerToWorker = { type: "start", task: t, pollIntervalMs: 5, source };
          child.send(start);
        } else if (m.type === "auth") child.send({ type: "auth", auth: parseSfdxAuthUrl(org.authUrl) });
        else if (m.type === "repo") child.send(repo(m.url));
        else if (m.type === "checkpoint") child.send({ type: "checkpoint", ref: m.ref, stored: true });
        else if (m.type === "done") resolve(m);
      });
    });
    const result = await done;
    await new Promise((resolve) => child.once("exit", resolve));
    const logs = messages.flatMap((m) => (m.type === "event" && m.event.type === "log" ? m.event.lines : []));
    return { done: result, messages, logs, output };
  }
  const withToken = (): RepoAnswer => ({ type: "repo", credential: { token: TOKEN } });

  it("deploys the project at a sha: the org receives exactly the converted components, the commit is in the events and the result", async () => {
    const before = org.deployIds().length;
    const asked: string[] = [];
    const { done, logs, messages, output } = await runJob(task("deploy", { source: { repo: fx.url, ref: fx.v1 } }), (url) => {
      asked.push(url);
      return withToken();
    });
    expect(done.error).toBeUndefined();
    expect(done.outcome).toBe("succeeded");
    expect(asked).toEqual([fx.url]);
    const ids = org.deployIds().slice(before);
    expect(ids).toHaveLength(1);
    const components = org.deployComponents(ids[0]);
    expect(byType(components, false)).toEqual(FIXTURE_COMPONENTS);
    expect(components.some((c) => c.fullName === "ScratchOrgSetup")).toBe(false);
    expect(done.result).toMatchObject({
      status: "Succeeded",
      checkOnly: false,
      source: { repo: fx.url, ref: fx.v1, sha: fx.v1, packageDirectories: ["force-app", "common"], destructive: 0 },
    });
    expect(logs.some((l) => l.includes(`is commit ${fx.v1}`))).toBe(true);
    expect(JSON.stringify(messages).includes(TOKEN)).toBe(false);
    expect(output.includes(TOKEN)).toBe(false);
  });

  it("validates a branch as a delta: only the changed components, the removed class deleted after, the branch resolved to its sha", async () => {
    const before = org.deployIds().length;
    const { done, logs } = await runJob(task("validate", { source: { repo: fx.url, ref: "main", delta: { from: fx.v1 } }, testLevel: "NoTestRun" }), withToken);
    expect(done.error).toBeUndefined();
    expect(done.outcome).toBe("succeeded");
    const [id] = org.deployIds().slice(before);
    const components = org.deployComponents(id);
    expect(byType(components, false)).toEqual(DELTA.changed);
    expect(byType(components, true)).toEqual(DELTA.deleted);
    expect(done.result).toMatchObject({ checkOnly: true, source: { ref: "main", sha: fx.v2, fromSha: fx.v1, destructive: 1 } });
    expect(logs.some((l) => l.includes(`main is commit ${fx.v2} (delta from ${fx.v1})`))).toBe(true);
  });

  it("fails with repo_auth when the repository refuses the token, without the token anywhere and before any deploy", async () => {
    const before = org.deployIds().length;
    const wrong = "ghp_wrongToken0123456789abcdefABCDEF";
    const { done, messages, output } = await runJob(task("deploy", { source: { repo: fx.url, ref: fx.v1 } }), () => ({
      type: "repo",
      credential: { token: wrong },
    }));
    expect(done.outcome).toBe("failed");
    expect(done.error?.code).toBe("repo_auth");
    expect(done.error?.message).toMatch(/refused the repository token/);
    expect(org.deployIds().length).toBe(before);
    for (const text of [JSON.stringify(messages), output]) {
      expect(text.includes(wrong)).toBe(false);
      expect(text.includes(TOKEN)).toBe(false);
    }
  });

  it("fails with repo_auth naming the missing registration when no token is registered for a private repository", async () => {
    const { done } = await runJob(task("deploy", { source: { repo: fx.url, ref: fx.v1 } }), () => ({ type: "repo", credential: null }));
    expect(done.error?.code).toBe("repo_auth");
    expect(done.error?.message).toMatch(/no repository token is registered/);
  });

  it("fails with ref_not_found for a commit the repository does not have", async () => {
    const { done } = await runJob(task("deploy", { source: { repo: fx.url, ref: "0123456789abcdef0123456789abcdef01234567" } }), withToken);
    expect(done.error?.code).toBe("ref_not_found");
  });

  it("fails with credentials_unavailable when the manager refuses the repository", async () => {
    const { done } = await runJob(task("deploy", { source: { repo: fx.url, ref: fx.v1 } }), () => ({
      type: "repo",
      error: { code: "credentials_refused", message: "repository credentials refused: a worker gets only the repository its task names" },
    }));
    expect(done.error).toEqual({
      code: "credentials_unavailable",
      message: "repository credentials refused: a worker gets only the repository its task names",
    });
  });

  it("refuses a repository on a non-public address unless the manager's settings allow its host", async () => {
    const repo = `https://127.0.0.1:${await freePort()}/acme/crm.git`;
    const strict = { cacheDir: join(scratch, "cache"), allowLocalHttp: false };
    const refused = await runJob(task("deploy", { source: { repo, ref: fx.v1 } }), withToken, strict);
    expect(refused.done.error?.code).toBe("invalid_source");
    expect(refused.done.error?.message).toContain("SFP_SOURCE_ALLOWED_HOSTS");
    // allowed: git runs, and finds nothing listening there
    const allowed = await runJob(task("deploy", { source: { repo, ref: fx.v1 } }), withToken, { ...strict, allowedHosts: ["127.0.0.1"] });
    expect(allowed.done.error?.code).toBe("repo_unreachable");
  });
});
