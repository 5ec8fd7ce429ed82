// Issue 14, commit statuses: a signed pull_request.opened (GitHub) or merge_request (GitLab) → a
// validate → the provider's status API (a strict double on loopback, driven by @octokit/rest and
// @gitbeaker/rest) sees pending, running, then success or failure for exactly the head sha, with the
// dashboard link; an API task naming a commit reports the same way; a revoked token shows on the
// source; the token is in no answer, event, log line or error.
import { runInDurableObject } from "cloudflare:test";
import { Gitlab } from "@gitbeaker/rest";
import { Octokit } from "@octokit/rest";
import { inject } from "vitest";
import { afterEach, describe, expect, it, vi } from "vitest";
import githubPr from "../fixtures/webhooks/github-pull_request.opened.json?raw";
import gitlabMr from "../fixtures/webhooks/gitlab-merge-request-hook.json?raw";
import { api, ingestSettled, setup } from "./helpers.ts";
import { allowLoopback, projectActor, retryNow } from "./notify-helpers.ts";
import { accept, finish, pollOne, register } from "./runner-helpers.ts";
import { deliver, GITHUB_SECRET, GITLAB_SECRET, githubSignature, putSource } from "./webhooks-helpers.ts";

let restore: (() => void) | undefined;
afterEach(() => {
  restore?.();
  vi.restoreAllMocks();
});

const hex40 = () => [...crypto.getRandomValues(new Uint8Array(20))].map((b) => b.toString(16).padStart(2, "0")).join("");

async function newStatusToken(base: string, valid = true): Promise<string> {
  const token = `tok-${crypto.randomUUID()}`;
  await fetch(`${base}/_control/token`, { method: "POST", body: JSON.stringify({ token, valid }) });
  return token;
}

async function revoke(base: string, token: string): Promise<void> {
  await fetch(`${base}/_control/token`, { method: "POST", body: JSON.stringify({ token, valid: false }) });
}

/** A project with a runner, a source of `kind` reporting statuses to its double, and a log spy. */
async function world(kind: "github" | "gitlab") {
  restore = allowLoopback(true);
  const logs = vi.spyOn(console, "log");
  const base = inject(kind === "github" ? "githubUrl" : "gitlabUrl");
  const token = await newStatusToken(base);
  const { project, owner } = await setup();
  const runner = await register(project, owner);
  const source = await putSource(project, owner, kind, {
    kind,
    secret: kind === "github" ? GITHUB_SECRET : GITLAB_SECRET,
    rules: [{ on: kind === "github" ? "pull_request.opened" : "merge_request.open", task: { type: "validate", org: "demo" } }],
    statusToken: token,
    statusApiUrl: kind === "github" ? base : `${base}/api/v4`,
  });
  expect(source.commitStatus).toEqual({ tokenSet: true, apiUrl: kind === "github" ? base : `${base}/api/v4`, error: null });
  return { project, owner, runner, source, token, base, logs };
}

async function deliverGithub(sourceId: string, repo: string, sha: string): Promise<string> {
  const payload = JSON.parse(githubPr);
  payload.repository.full_name = repo;
  payload.pull_request.head.sha = sha;
  const body = JSON.stringify(payload);
  const res = await deliver(sourceId, body, {
    "content-type": "application/json",
    "x-github-event": "pull_request",
    "x-github-delivery": crypto.randomUUID(),
    "x-hub-signature-256": await githubSignature(body),
  });
  expect(res.status).toBe(202);
  return res.json.tasks?.[0] ?? "";
}

async function deliverGitlab(sourceId: string, projectId: number, sha: string): Promise<string> {
  const payload = JSON.parse(gitlabMr);
  payload.project.id = projectId;
  payload.object_attributes.last_commit.id = sha;
  const res = await deliver(sourceId, JSON.stringify(payload), {
    "content-type": "application/json",
    "x-gitlab-event": "Merge Request Hook",
    "x-gitlab-event-uuid": crypto.randomUUID(),
    "x-gitlab-token": GITLAB_SECRET,
  });
  expect(res.status).toBe(202);
  return res.json.tasks?.[0] ?? "";
}

/** Runs the task through the runner protocol to `outcome`, waiting for `seen()` to grow after each status. */
async function run(runnerToken: string, taskId: string, outcome: "succeeded" | "failed", seen: () => Promise<number>) {
  await ingestSettled();
  await vi.waitFor(async () => expect(await seen()).toBe(1), { timeout: 10_000 });
  // A validate takes its org's lock first: the previous task's release reaches it through two actors' outboxes.
  const offer = await vi.waitFor(() => pollOne(runnerToken), { timeout: 10_000, interval: 50 });
  const lease = await accept(runnerToken, taskId, offer.assignmentId);
  expect(lease.status).toBe(200);
  await vi.waitFor(async () => expect(await seen()).toBe(2), { timeout: 10_000 });
  const done = await finish(lease.body, outcome === "succeeded" ? { outcome } : { outcome, error: { code: "deploy_failed", message: "2 components failed" } });
  expect(done.status).toBe(200);
  await vi.waitFor(async () => expect(await seen()).toBe(3), { timeout: 10_000 });
}

/** Every answer the owner can read about the source and the task, and every log line, hold no token. */
async function expectNoToken(w: { project: string; owner: string; token: string; logs: { mock: { calls: unknown[][] } } }, taskId: string) {
  const reads = await Promise.all([
    api("GET", `/v1/projects/${w.project}/webhook-sources`, { token: w.owner }),
    api("GET", `/v1/tasks/${taskId}`, { token: w.owner }),
    api("GET", `/v1/tasks/${taskId}/events`, { token: w.owner }),
    api("GET", `/v1/projects/${w.project}/tasks`, { token: w.owner }),
  ]);
  for (const r of reads) expect(JSON.stringify(r.body)).not.toContain(w.token);
  expect(JSON.stringify(w.logs.mock.calls)).not.toContain(w.token);
}

describe("GitHub commit statuses", () => {
  it("the double is GitHub's API as @octokit/rest speaks it: token checked, fields strict", async () => {
    const base = inject("githubUrl");
    const token = await newStatusToken(base);
    const octokit = new Octokit({ baseUrl: base, auth: token });
    const sha = hex40();
    const made = await octokit.repos.createCommitStatus({
      owner: "probe",
      repo: "one",
      sha,
      state: "pending",
      context: "probe",
      description: "d",
      target_url: "https://x.test/",
    });
    expect(made.status).toBe(201);
    const listed = await octokit.repos.listCommitStatusesForRef({ owner: "probe", repo: "one", ref: sha });
    expect(listed.data.map((s) => [s.state, s.context])).toEqual([["pending", "probe"]]);
    await expect(
      new Octokit({ baseUrl: base, auth: "wrong" }).repos.createCommitStatus({ owner: "probe", repo: "one", sha, state: "success" }),
    ).rejects.toMatchObject({
      status: 401,
    });
    // A state GitHub does not know, sent as a raw request (octokit's types would not let it through).
    await expect(octokit.request("POST /repos/probe/one/statuses/{sha}", { sha, state: "done" })).rejects.toMatchObject({
      status: 422,
    });
  });

  it("pull_request.opened → validate: pending, running, then success for exactly the head sha, with the dashboard link", async () => {
    const w = await world("github");
    const repo = `acme/app-${crypto.randomUUID().slice(0, 8)}`;
    const [owner, name] = repo.split("/");
    const sha = hex40();
    const octokit = new Octokit({ baseUrl: w.base, auth: w.token });
    const statuses = async () => (await octokit.repos.listCommitStatusesForRef({ owner, repo: name, ref: sha })).data;
    const taskId = await deliverGithub(w.source.id, repo, sha);
    const task = await api("GET", `/v1/tasks/${taskId}`, { token: w.owner });
    expect(task.body.task.commit).toEqual({ provider: "github", repo, sha, source: "github" });
    await run(w.runner.runnerToken, taskId, "succeeded", async () => (await statuses()).length);
    const seen = (await statuses()).reverse();
    expect(seen.map((s) => [s.state, s.description, s.context])).toEqual([
      ["pending", "Queued on sfp-edge", "sfp-edge/validate"],
      ["pending", "Running on sfp-edge", "sfp-edge/validate"],
      ["success", "validate succeeded", "sfp-edge/validate"],
    ]);
    for (const s of seen) expect(s.target_url).toBe(`https://edge.test/#task=${taskId}`);
    const everything = await (await fetch(`${w.base}/_control/posted/${encodeURIComponent(repo)}`)).json<{ posted: { sha: string }[] }>();
    expect(everything.posted.map((p) => p.sha)).toEqual([sha, sha, sha]);
    await expectNoToken(w, taskId);
    // Sealed at rest: the actor's row holds no trace of the token.
    const rows = await runInDurableObject(projectActor(w.project), (_i, state) => state.storage.sql.exec("SELECT * FROM sfp_source_status").toArray());
    expect(rows).toHaveLength(1);
    expect(JSON.stringify(rows)).not.toContain(w.token);
    expect(JSON.stringify(rows)).not.toContain(w.token.slice(4, 20));
  });

  it("a failing validate reports failure; an API task naming a commit reports too; a revoked token shows on the source", async () => {
    const w = await world("github");
    const repo = `acme/app-${crypto.randomUUID().slice(0, 8)}`;
    const [owner, name] = repo.split("/");
    const octokit = new Octokit({ baseUrl: w.base, auth: w.token });
    const statuses = async (ref: string) => (await octokit.repos.listCommitStatusesForRef({ owner, repo: name, ref })).data;
    const sha = hex40();
    const taskId = await deliverGithub(w.source.id, repo, sha);
    await run(w.runner.runnerToken, taskId, "failed", async () => (await statuses(sha)).length);
    expect((await statuses(sha))[0]).toMatchObject({ state: "failure", description: "validate failed: deploy_failed" });

    const apiSha = hex40();
    const created = await api("POST", `/v1/projects/${w.project}/tasks`, {
      token: w.owner,
      body: { type: "validate", org: "demo", commit: { provider: "github", repo, sha: apiSha } },
    });
    expect(created.status).toBe(201);
    await vi.waitFor(async () => expect((await statuses(apiSha)).map((s) => s.state)).toEqual(["pending"]), { timeout: 10_000 });

    await revoke(w.base, w.token);
    const canceled = await api("POST", `/v1/tasks/${created.body.task.id}/cancel`, { token: w.owner });
    expect(canceled.status).toBe(202);
    await vi.waitFor(
      async () => {
        const src = await api("GET", `/v1/projects/${w.project}/webhook-sources/github`, { token: w.owner });
        expect(src.body.source.commitStatus.error).toMatchObject({ code: "status_token_rejected", message: expect.stringContaining("401") });
      },
      { timeout: 10_000 },
    );
    await expectNoToken(w, created.body.task.id);
    // A new token clears the error.
    const fresh = await putSource(w.project, w.owner, "github", {
      kind: "github",
      secret: GITHUB_SECRET,
      rules: [],
      statusToken: await newStatusToken(w.base),
    });
    expect(fresh.commitStatus).toMatchObject({ tokenSet: true, error: null });
  });

  it("5xx and no answer retry on the schedule; a status token only for github/gitlab sources; loopback API URLs only in development", async () => {
    const w = await world("github");
    const put = (body: Record<string, unknown>) => api("PUT", `/v1/projects/${w.project}/webhook-sources/std`, { token: w.owner, body });
    const std = await put({ kind: "standard", secret: "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw", rules: [], statusToken: "x" });
    expect(std).toMatchObject({ status: 400, body: { error: { code: "invalid_request" } } });
    restore?.();
    restore = allowLoopback(false);
    const bad = await api("PUT", `/v1/projects/${w.project}/webhook-sources/github`, {
      token: w.owner,
      body: { kind: "github", secret: GITHUB_SECRET, rules: [], statusApiUrl: w.base },
    });
    expect(bad).toMatchObject({ status: 400, body: { error: { code: "invalid_request", field: "statusApiUrl" } } });
    restore();
    restore = allowLoopback(true);
    // The API answers nothing (a closed port): the status is retried, not dropped.
    await putSource(w.project, w.owner, "github", { kind: "github", secret: GITHUB_SECRET, rules: [], statusApiUrl: "http://127.0.0.1:9" });
    const sha = hex40();
    const repo = `acme/retry-${crypto.randomUUID().slice(0, 8)}`;
    await api("POST", `/v1/projects/${w.project}/tasks`, {
      token: w.owner,
      body: { type: "validate", org: "demo", commit: { provider: "github", repo, sha } },
    });
    await putSource(w.project, w.owner, "github", { kind: "github", secret: GITHUB_SECRET, rules: [], statusApiUrl: w.base });
    await vi.waitFor(async () => {
      await retryNow(w.project, { table: "sfp_commit_statuses" });
      const [owner, name] = repo.split("/");
      const got = await new Octokit({ baseUrl: w.base, auth: w.token }).repos.listCommitStatusesForRef({ owner, repo: name, ref: sha });
      expect(got.data.map((s) => s.state)).toEqual(["pending"]);
    });
  });
});

describe("GitLab commit statuses", () => {
  it("the double is GitLab's API as @gitbeaker/rest speaks it: PRIVATE-TOKEN, states, no repeated state", async () => {
    const base = inject("gitlabUrl");
    const token = await newStatusToken(base);
    const gitlab = new Gitlab({ host: base, token });
    const sha = hex40();
    const made = await gitlab.Commits.editStatus(424242, sha, "running", { name: "probe" });
    expect(made).toMatchObject({ status: "running", name: "probe" });
    await expect(gitlab.Commits.editStatus(424242, sha, "running", { name: "probe" })).rejects.toThrow();
    await expect(new Gitlab({ host: base, token: "wrong" }).Commits.editStatus(424242, sha, "success", { name: "probe" })).rejects.toThrow();
    expect((await gitlab.Commits.allStatuses(424242, sha)).map((s) => s.status)).toEqual(["running"]);
  });

  it("merge_request.open → validate: pending, running, success; a failing one failed; no token anywhere", async () => {
    const w = await world("gitlab");
    const gitlab = new Gitlab({ host: w.base, token: w.token });
    const projectId = 100_000 + Math.floor(Math.random() * 1_000_000);
    for (const outcome of ["succeeded", "failed"] as const) {
      const sha = hex40();
      const statuses = async () => gitlab.Commits.allStatuses(projectId, sha);
      const taskId = await deliverGitlab(w.source.id, projectId, sha);
      await run(w.runner.runnerToken, taskId, outcome, async () => (await statuses()).length);
      const seen = (await statuses()).reverse();
      expect(seen.map((s) => [s.status, s.name])).toEqual([
        ["pending", "sfp-edge/validate"],
        ["running", "sfp-edge/validate"],
        [outcome === "succeeded" ? "success" : "failed", "sfp-edge/validate"],
      ]);
      for (const s of seen) expect(s.target_url).toBe(`https://edge.test/#task=${taskId}`);
      await expectNoToken(w, taskId);
    }
  });
});
