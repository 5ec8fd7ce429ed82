// A worker gets the token of the one repository its task's `source` names, once, after `start`:
// never another repository's, never a second time, never for a task without a source.
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { Task } from "../../protocol/task.ts";
import { storeBroker } from "../credentials/broker.ts";
import type { CredentialsConfig } from "../credentials/config.ts";
import { registerRepo } from "../credentials/index.ts";
import { TEST_PROJECT, testTask } from "../testing-task.ts";
import { JobCredentials } from "./job-credentials.ts";
import { createLogger } from "./log.ts";

const PROJECT = TEST_PROJECT;
const task = (payload: Record<string, unknown>, type: Task["type"] = "deploy") => testTask(type, payload);
const CRM = "https://git.example.com/acme/crm.git";
const OTHER = "https://git.example.com/acme/billing.git";
const CRM_TOKEN = "ghp_crmToken0123456789abcdefABCDEFgh";
const OTHER_TOKEN = "ghp_billingToken0123456789abcdefABCD";

describe("a job hands its worker only its task's repository token", () => {
  let dir: string;
  let config: CredentialsConfig;
  const logs: string[] = [];
  const log = createLogger({ level: "debug", write: (l) => logs.push(l) });
  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), "sfp-job-repo-"));
    config = { provider: "local", file: join(dir, "credentials.json"), key: "job-credentials-test-key" };
    await registerRepo({ url: CRM, credential: { token: CRM_TOKEN }, config, project: PROJECT });
    await registerRepo({ url: OTHER, credential: { token: OTHER_TOKEN, username: "x-token-auth" }, config, project: PROJECT });
  });
  afterAll(() => rm(dir, { recursive: true, force: true }));

  const source = { source: { repo: CRM, ref: "main" } };

  it("answers the task's repository once (any spelling of its URL), masks the token, and refuses a second ask", async () => {
    const job = new JobCredentials(task(source), storeBroker(config), log);
    const first = await job.answerRepo({ url: "https://GIT.example.com/acme/crm/" }, true);
    expect(first).toEqual({ type: "repo", credential: { token: CRM_TOKEN } });
    expect(job.masker.mask(`token ${CRM_TOKEN}`)).not.toContain(CRM_TOKEN);
    const again = await job.answerRepo({ url: CRM }, true);
    expect(again).toMatchObject({ type: "repo", error: { code: "credentials_refused", message: expect.stringContaining("already handed over") } });
  });

  it("refuses another repository, an ask before start, and a task without a source", async () => {
    const job = new JobCredentials(task(source), storeBroker(config), log);
    expect(await job.answerRepo({ url: CRM }, false)).toMatchObject({
      error: { code: "credentials_refused", message: expect.stringContaining("not been given its task") },
    });
    expect(await job.answerRepo({ url: OTHER }, true)).toMatchObject({
      error: { code: "credentials_refused", message: expect.stringContaining("only the repository its task names") },
    });
    const zipJob = new JobCredentials(task({ zipUrl: "https://ci.example.com/a.zip" }), storeBroker(config), log);
    expect(await zipJob.answerRepo({ url: CRM }, true)).toMatchObject({ error: { code: "credentials_refused" } });
    const queryJob = new JobCredentials(task(source, "query"), storeBroker(config), log);
    expect(await queryJob.answerRepo({ url: CRM }, true)).toMatchObject({ error: { code: "credentials_refused" } });
    expect(logs.join("\n")).not.toContain(OTHER_TOKEN);
    expect(logs.join("\n")).not.toContain(CRM_TOKEN);
  });

  it("answers null for a repository without a registered token (a public one), and keeps projects apart", async () => {
    const publicRepo = new JobCredentials(task({ source: { repo: "https://github.com/acme/open.git", ref: "main" } }), storeBroker(config), log);
    expect(await publicRepo.answerRepo({ url: "https://github.com/acme/open.git" }, true)).toEqual({ type: "repo", credential: null });
    const otherProject = new JobCredentials({ ...task(source), project: "prj_other" }, storeBroker(config), log);
    expect(await otherProject.answerRepo({ url: CRM }, true)).toEqual({ type: "repo", credential: null });
  });
});
