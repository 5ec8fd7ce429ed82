// The sfp-edge CLI as a user runs it (a child process) against the real edge in workerd on loopback.
import { mkdtemp, readFile, stat, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { EdgeClient } from "../../protocol/client.ts";
import type { EventsPage, Task, TaskEvent } from "../../protocol/index.ts";
import { FAKE_WORKER } from "../../runner/manager/testing.ts";
import { cli, startCli } from "./cli-process.ts";
import { createProject, startEdge, type Edge } from "./edge-process.ts";
import { takeTask } from "./runner-api.ts";
import { startTcpProxy, type TcpProxy } from "./tcp-proxy.ts";

let edge: Edge;
let project: string;
let owner: string;
let configDir: string;
let api: EdgeClient;
let proxy: TcpProxy;

/** The CLI with the test's stored login. */
const sfp = (...args: string[]) => cli(["--config-dir", configDir, ...args]);

async function newTask(): Promise<Task> {
  // query: a type that takes no org lock, so no test's task waits behind another's still queued deploy.
  const { body } = await api.request<{ task: Task }>("POST", `/v1/projects/${project}/tasks`, { body: { type: "query", org: "demo" } });
  return body.task;
}

let pools = 0;
/** A task in a pool of its own, so the test runner is assigned this task and no other. */
async function runnableTask(): Promise<{ task: Task; org: string }> {
  const org = `runner-org-${++pools}`;
  await api.request("PUT", `/v1/projects/${project}/orgs/${org}`, { body: { pool: `cli-pool-${pools}` } });
  const { body } = await api.request<{ task: Task }>("POST", `/v1/projects/${project}/tasks`, { body: { type: "deploy", org } });
  return { task: body.task, org };
}

function jsonLines(text: string): Array<{ event?: TaskEvent; task?: Task }> {
  return text
    .trim()
    .split("\n")
    .filter(Boolean)
    .map((l) => JSON.parse(l));
}

beforeAll(async () => {
  edge = await startEdge();
  ({ project, ownerToken: owner } = await createProject(edge, "cli-system"));
  api = new EdgeClient(edge.url, owner);
  await api.request("PUT", `/v1/projects/${project}/orgs/demo`, { body: {} });
  configDir = await mkdtemp(join(tmpdir(), "sfp-cli-system-"));
  const login = await cli(["--config-dir", configDir, "login", "--url", edge.url, "--token", owner, "--project", project]);
  if (login.code !== 0) throw new Error(`login failed: ${login.stderr}`);
  proxy = await startTcpProxy(edge.url);
});

afterAll(async () => {
  await proxy?.close();
  await edge?.stop();
});

describe("sfp-edge login", () => {
  it("refuses a bad token with the edge's 401 and a hint to log in, and writes nothing", async () => {
    const dir = await mkdtemp(join(tmpdir(), "sfp-cli-login-"));
    const res = await cli(["--config-dir", dir, "login", "--url", edge.url, "--token", "sfp_not.valid", "--project", project]);
    expect(res.code).toBe(1);
    expect(res.stderr).toMatch(/error: the bearer token is invalid, expired or revoked \(unauthenticated, HTTP 401/);
    expect(res.stderr).toContain("hint: run sfp-edge login");
    await expect(stat(join(dir, "config.json"))).rejects.toThrow();
  });

  it("checks the token against the project and stores URL, token and project in a 0600 file", async () => {
    const dir = await mkdtemp(join(tmpdir(), "sfp-cli-login-"));
    const res = await cli(["--config-dir", dir, "login", "--url", edge.url, "--token", owner, "--project", project, "--json"]);
    expect(res.code).toBe(0);
    expect(JSON.parse(res.stdout)).toEqual({ url: edge.url, project, config: join(dir, "config.json") });
    expect(res.stdout + res.stderr).not.toContain(owner);
    const file = join(dir, "config.json");
    expect((await stat(file)).mode & 0o777).toBe(0o600);
    expect(JSON.parse(await readFile(file, "utf8"))).toEqual({ url: edge.url, token: owner, project });
  });

  it("answers 404 for a project the token does not belong to", async () => {
    const other = await createProject(edge, "other");
    const res = await cli([
      "--config-dir",
      await mkdtemp(join(tmpdir(), "sfp-cli-login-")),
      "login",
      "--url",
      edge.url,
      "--token",
      owner,
      "--project",
      other.project,
    ]);
    expect(res.code).toBe(1);
    expect(res.stderr).toMatch(/no such project \(not_found, HTTP 404/);
  });
});

describe("sfp-edge task create/get/list/cancel", () => {
  it("creates a task and reads it back, as JSON", async () => {
    const created = await sfp("task", "create", "validate", "--org", "demo", "--priority", "critical", "--label", "ci", "--json");
    expect(created.code).toBe(0);
    const { task, created: isNew } = JSON.parse(created.stdout);
    expect(isNew).toBe(true);
    expect(task).toMatchObject({ type: "validate", org: "demo", priority: "critical", labels: ["ci"], status: "queued", project });

    const got = await sfp("task", "get", task.id, "--json");
    expect(got.code).toBe(0);
    expect(JSON.parse(got.stdout).task).toMatchObject({ id: task.id, status: "queued", version: 1 });

    const listed = await sfp("task", "list", "--limit", "5", "--json");
    expect(listed.code).toBe(0);
    expect(JSON.parse(listed.stdout).tasks.map((t: Task) => t.id)).toContain(task.id);
  });

  it("answers the same task for the same Idempotency-Key", async () => {
    const a = JSON.parse((await sfp("task", "create", "deploy", "--org", "demo", "--idempotency-key", "cli-key-1", "--json")).stdout);
    const b = await sfp("task", "create", "deploy", "--org", "demo", "--idempotency-key", "cli-key-1");
    expect(b.code).toBe(0);
    expect(b.stdout).toContain(`already created (same Idempotency-Key): ${a.task.id}`);
  });

  it("cancels a queued task, then says 409 for a second cancel", async () => {
    const task = await newTask();
    const first = await sfp("task", "cancel", task.id, "--json");
    expect(first.code).toBe(0);
    expect(JSON.parse(first.stdout).task.status).toBe("canceled");
    const second = await sfp("task", "cancel", task.id);
    expect(second.code).toBe(1);
    expect(second.stderr).toMatch(/error: task already canceled \(already_finished, HTTP 409/);
    const list = JSON.parse((await sfp("task", "list", "--status", "canceled", "--json")).stdout);
    expect(list.tasks.map((t: Task) => t.id)).toContain(task.id);
  });
});

describe("4xx answers as messages", () => {
  it("names the field of a 400", async () => {
    const res = await sfp("task", "create", "deploy", "--org", "no-such-org");
    expect(res.code).toBe(1);
    expect(res.stderr).toMatch(/error: org: unknown org alias "no-such-org".*\(invalid_request, HTTP 400/);
  });

  it("says 404 for an unknown task, with a hint", async () => {
    const res = await sfp("task", "get", "tsk_01M8K27F85GTD44QWZ35C4C8JF");
    expect(res.code).toBe(1);
    expect(res.stderr).toMatch(/error: no such task \(not_found, HTTP 404, request \S+\)\nhint: check the id/);
  });

  it("says 403 when the role may not, and 401 with 'run sfp-edge login' for a revoked token", async () => {
    const { body: viewer } = await api.request<{ id: string; token: string }>("POST", `/v1/projects/${project}/tokens`, {
      body: { name: "v", role: "viewer" },
    });
    const task = await newTask();
    const env = { SFP_EDGE_URL: edge.url, SFP_EDGE_TOKEN: viewer.token, SFP_EDGE_PROJECT: project };
    const denied = await cli(["--config-dir", configDir, "task", "cancel", task.id], env);
    expect(denied.code).toBe(1);
    expect(denied.stderr).toMatch(/error: the viewer role may not do this \(forbidden, HTTP 403/);

    const revoked = await sfp("token", "revoke", viewer.id);
    expect(revoked.code).toBe(0);
    const after = await cli(["--config-dir", configDir, "task", "get", task.id], env);
    expect(after.code).toBe(1);
    expect(after.stderr).toMatch(/\(unauthenticated, HTTP 401.*\nhint: run sfp-edge login/);
    expect(after.stderr).not.toContain(viewer.token);
  });
});

describe("sfp-edge token", () => {
  it("creates a token (shown once), lists it without the secret, and revokes it", async () => {
    const created = await sfp("token", "create", "--name", "ci-bot", "--role", "ci", "--expires-in-days", "7", "--json");
    expect(created.code).toBe(0);
    const { id, token, role, expiresAt } = JSON.parse(created.stdout);
    expect(role).toBe("ci");
    expect(expiresAt).toBeTruthy();
    const listed = await sfp("token", "list");
    expect(listed.stdout).toMatch(new RegExp(`${id}\\s+ci\\s+ci-bot`));
    expect(listed.stdout).not.toContain(token);
    expect((await sfp("token", "revoke", id)).code).toBe(0);
    expect((await sfp("token", "list")).stdout).toMatch(new RegExp(`${id}.*revoked`));
  });
});

describe("sfp-edge task watch", () => {
  it("prints the events and exits 1 when the task is canceled", async () => {
    const task = await newTask();
    const watch = startCli(["--config-dir", configDir, "task", "watch", task.id]);
    await watch.waitFor(/\[status\] queued/);
    await api.request("POST", `/v1/tasks/${task.id}/cancel`);
    expect(await watch.exit).toBe(1);
    expect(watch.stdout()).toBe(`[status] queued (attempt 1)\n[status] canceled (attempt 1)\ntask ${task.id} canceled\n`);
  });

  it("resumes after the socket is dropped, missing nothing and repeating nothing", async () => {
    const task = await newTask();
    const watch = startCli(["--config-dir", configDir, "task", "watch", task.id, "--json"], { SFP_EDGE_URL: proxy.url });
    await watch.waitFor(/"seq":1/);
    proxy.hold();
    proxy.dropAll();
    await watch.waitFor(/connection lost .*resuming after event 1/, "stderr");
    // The change happens while the CLI is cut off; it must arrive after the reconnect.
    await api.request("POST", `/v1/tasks/${task.id}/cancel`);
    proxy.release();
    expect(await watch.exit).toBe(1);
    const lines = jsonLines(watch.stdout());
    expect(lines.filter((l) => l.event).map((l) => l.event!.seq)).toEqual([1, 2]);
    expect(lines.at(-1)?.task).toMatchObject({ id: task.id, status: "canceled" });
  });

  it("falls back to long-polling when WebSocket upgrades are refused on the way", async () => {
    proxy.refuseWebSockets = true;
    try {
      const task = await newTask();
      const watch = startCli(["--config-dir", configDir, "task", "watch", task.id, "--json"], { SFP_EDGE_URL: proxy.url });
      await watch.waitFor(/long-polling/, "stderr");
      await watch.waitFor(/"seq":1/);
      await api.request("POST", `/v1/tasks/${task.id}/cancel`);
      expect(await watch.exit).toBe(1);
      expect(
        jsonLines(watch.stdout())
          .filter((l) => l.event)
          .map((l) => l.event!.seq),
      ).toEqual([1, 2]);
    } finally {
      proxy.refuseWebSockets = false;
    }
  });

  it("exits 0 when the task succeeds, having shown its progress and logs", async () => {
    const org = "wait-org";
    await api.request("PUT", `/v1/projects/${project}/orgs/${org}`, { body: { pool: "wait-pool" } });
    const watch = startCli(["--config-dir", configDir, "task", "create", "deploy", "--org", org, "--wait"]);
    await watch.waitFor(/created: (tsk_\S+)/);
    const id = /created: (tsk_\S+)/.exec(watch.stdout())![1];
    await watch.waitFor(/\[status\] queued/);
    const job = await takeTask(edge.url, project, owner, id, "wait-pool");
    await job.events({ type: "progress", percent: 50, step: "deploy" }, { type: "log", lines: ["deploying 3 components"] });
    await job.finish("succeeded", { result: { deployId: "0Af000000000001" } });
    expect(await watch.exit).toBe(0);
    expect(watch.stdout()).toMatch(/\[status\] running[\s\S]*\[progress\] 50% deploy[\s\S]*deploying 3 components[\s\S]*succeeded/);
  });

  it("exits 1 when the task fails", async () => {
    const { task } = await runnableTask();
    const watch = startCli(["--config-dir", configDir, "task", "watch", task.id]);
    await watch.waitFor(/\[status\] queued/);
    const job = await takeTask(edge.url, project, owner, task.id, task.pool);
    await job.finish("failed", { error: { code: "deploy_failed", message: "2 components failed" } });
    expect(await watch.exit).toBe(1);
    expect(watch.stdout()).toContain(`task ${task.id} failed: deploy_failed: 2 components failed`);
  });
});

describe("sfp-edge task logs", () => {
  it("prints nothing for a task without logs", async () => {
    const task = await newTask();
    const res = await sfp("task", "logs", task.id);
    expect(res).toMatchObject({ code: 0, stdout: "" });
  });

  it("follows the log from the last byte until the task ends", async () => {
    const { task } = await runnableTask();
    const job = await takeTask(edge.url, project, owner, task.id, task.pool);
    await job.events({ type: "log", lines: ["line 1", "line 2"] });
    const follow = startCli(["--config-dir", configDir, "task", "logs", task.id, "--follow"]);
    await follow.waitFor(/line 2\n/);
    await job.events({ type: "log", lines: ["line 3 — ünïcödé"] }, { type: "log", lines: ['{"json":"line"}'] });
    await follow.waitFor(/json/);
    await job.finish("succeeded");
    expect(await follow.exit).toBe(0);
    expect(follow.stdout()).toBe('line 1\nline 2\nline 3 — ünïcödé\n{"json":"line"}\n');
  });
});

describe("sfp-edge runner token", () => {
  it("creates a registration token and shows it once", async () => {
    const res = await sfp("runner", "token", "--pool", "default", "--uses", "2");
    expect(res.code).toBe(0);
    expect(res.stderr).toMatch(/registration token for pool default \(expires .*\); shown once/);
    expect(res.stdout.trim()).toMatch(/^\S+$/);
  });
});

describe("sfp-edge org register and runner start (this machine's side)", () => {
  it("writes the org's credentials to the local store (never printing them) and its metadata to the edge", async () => {
    const dir = await mkdtemp(join(tmpdir(), "sfp-cli-org-"));
    const authFile = join(dir, "auth-url");
    const secretToken = "5Aep861secretRefreshToken";
    await writeFile(authFile, `force://PlatformCLI::${secretToken}@https://acme.my.salesforce.com\n`, { mode: 0o600 });
    const env = { SFP_LOCAL_CREDENTIALS_FILE: join(dir, "credentials.json"), SFP_LOCAL_CREDENTIALS_KEY: "local-store-passphrase-for-tests" };
    const res = await cli(["--config-dir", configDir, "org", "register", "--alias", "acme-prod", "--sfdx-auth-url-file", authFile, "--pool", "prod-pool"], env);
    expect(res.code).toBe(0);
    expect(res.stdout).toContain(`stored the credentials of acme-prod (https://acme.my.salesforce.com) for project ${project}`);
    expect(res.stdout).toContain("routes acme-prod's tasks to pool prod-pool");
    expect(res.stdout + res.stderr).not.toContain(secretToken);
    expect(await readFile(join(dir, "credentials.json"), "utf8")).not.toContain(secretToken);
    const { body } = await api.request<{ orgs: Array<{ alias: string; pool: string; instanceUrl: string | null }> }>("GET", `/v1/projects/${project}/orgs`);
    expect(body.orgs.find((o) => o.alias === "acme-prod")).toMatchObject({ pool: "prod-pool", instanceUrl: "https://acme.my.salesforce.com" });
  });

  it("repo register stores a repository's token in the runners' store, read from a file or stdin, never printed; a bad URL or token is refused", async () => {
    const dir = await mkdtemp(join(tmpdir(), "sfp-cli-repo-"));
    const tokenFile = join(dir, "token");
    const secret = "ghp_cliRepoToken0123456789abcdefABCD";
    await writeFile(tokenFile, `${secret}\n`, { mode: 0o600 });
    const file = join(dir, "credentials.json");
    const env = { SFP_LOCAL_CREDENTIALS_FILE: file, SFP_LOCAL_CREDENTIALS_KEY: "local-store-passphrase-for-tests" };
    const res = await cli(["--config-dir", configDir, "repo", "register", "--url", "https://github.com/acme/crm.git", "--token-file", tokenFile], env);
    expect(res.code).toBe(0);
    expect(res.stdout).toContain(`stored the token of https://github.com/acme/crm (user x-access-token) for project ${project}`);
    expect(res.stdout + res.stderr).not.toContain(secret);
    expect(await readFile(file, "utf8")).not.toContain(secret);
    const { createCredentialStore } = await import("../../runner/credentials/index.ts");
    const store = createCredentialStore({ provider: "local", file, key: env.SFP_LOCAL_CREDENTIALS_KEY });
    expect(await store.getRepo({ project, url: "https://github.com/acme/crm" })).toEqual({ token: secret });
    await store.close();

    const badUrl = await cli(
      ["--config-dir", configDir, "repo", "register", "--url", "https://user:pw@github.com/acme/crm.git", "--token-file", tokenFile],
      env,
    );
    expect(badUrl.code).toBe(1);
    expect(badUrl.stderr).toContain("url: no credentials, query or fragment");
    const spaced = await cli(
      ["--config-dir", configDir, "repo", "register", "--url", "https://github.com/acme/crm.git", "--token-file", "-"],
      env,
      "two words\n",
    );
    expect(spaced.code).toBe(1);
    expect(spaced.stderr).toContain("token: 1–4096 printable characters");
    expect(spaced.stderr).not.toContain("two words");
    const noFile = await cli(["--config-dir", configDir, "repo", "register", "--url", "https://github.com/acme/crm.git"], env);
    expect(noFile.code).toBe(2);
  });

  it("starts a runner manager that registers with a fresh token and, on SIGTERM, drains: the running job finishes, then it exits 0", async () => {
    const dir = await mkdtemp(join(tmpdir(), "sfp-cli-runner-"));
    // A job for this runner's pool, done by the fake worker: it logs a line, then works for 3 s.
    await api.request("PUT", `/v1/projects/${project}/orgs/cli-runner-org`, { body: { pool: "cli-runner-pool" } });
    const { body } = await api.request<{ task: Task }>("POST", `/v1/projects/${project}/tasks`, {
      body: { type: "deploy", org: "cli-runner-org", payload: { fake: { events: 1, sleepMs: 3_000 } } },
    });
    const taskId = body.task.id;
    const env = {
      SFP_RUNNER_STATE_FILE: join(dir, "state.json"),
      SFP_LOCAL_CREDENTIALS_FILE: join(dir, "credentials.json"),
      SFP_LOCAL_CREDENTIALS_KEY: "runner-test-passphrase",
      SFP_WORKER_ENTRY: FAKE_WORKER,
    };
    const runner = startCli(
      ["--config-dir", configDir, "runner", "start", "--pool", "cli-runner-pool", "--name", "cli-started", "--listen", "127.0.0.1:0"],
      env,
    );
    try {
      await expect
        .poll(
          async () =>
            (await api.request<{ runners: Array<{ name: string; pool: string }> }>("GET", `/v1/projects/${project}/runners`)).body.runners.find(
              (r) => r.name === "cli-started",
            ),
          { timeout: 30_000, interval: 250 },
        )
        .toMatchObject({ pool: "cli-runner-pool" });
      // The worker has the job (its first log line reached the edge) before the signal.
      await expect
        .poll(
          async () =>
            (await api.request<EventsPage>("GET", `/v1/tasks/${taskId}/events`)).body.events.some((e) => e.type === "log" && e.lines.includes("line 1")),
          { timeout: 60_000, interval: 250 },
        )
        .toBe(true);
    } finally {
      runner.child.kill("SIGTERM");
    }
    expect(await runner.exit).toBe(0);
    // It drained rather than stopped: the job ran to its end and succeeded.
    const { body: after } = await api.request<{ task: Task }>("GET", `/v1/tasks/${taskId}`);
    expect(after.task).toMatchObject({ status: "succeeded", attempt: 1 });
    expect(runner.stdout()).toMatch(/"msg":"draining"/);
  }, 120_000);
});

describe("sfp-edge webhook-source put", () => {
  it("sends the source from its files and prints the delivery URL, which then takes a signed GitHub push", async () => {
    const dir = await mkdtemp(join(tmpdir(), "sfp-cli-hook-"));
    const secret = "github-webhook-secret-for-tests";
    await writeFile(join(dir, "secret"), `${secret}\n`, { mode: 0o600 });
    await writeFile(
      join(dir, "rules.json"),
      JSON.stringify({ rules: [{ on: "push", if: { ref: "refs/heads/main" }, task: { type: "deploy", org: "demo", payload: { sha: "{{after}}" } } }] }),
    );
    const res = await sfp(
      "webhook-source",
      "put",
      "gh-main",
      "--kind",
      "github",
      "--secret-file",
      join(dir, "secret"),
      "--rules-file",
      join(dir, "rules.json"),
    );
    expect(res.code).toBe(0);
    expect(res.stdout + res.stderr).not.toContain(secret);
    const url = /deliveries go to (\S+)/.exec(res.stdout)?.[1];
    expect(url).toMatch(new RegExp(`^${edge.url}/v1/hooks/whs_`));

    const body = JSON.stringify({ ref: "refs/heads/main", after: "abc123" });
    const { createHmac } = await import("node:crypto");
    const delivery = await fetch(url!, {
      method: "POST",
      headers: {
        "content-type": "application/json",
        "x-github-event": "push",
        "x-github-delivery": crypto.randomUUID(),
        "x-hub-signature-256": `sha256=${createHmac("sha256", secret).update(body).digest("hex")}`,
      },
      body,
    });
    expect(delivery.status).toBe(202);
    const { tasks } = (await delivery.json()) as { tasks: string[] };
    const got = await sfp("task", "get", tasks[0], "--json");
    expect(JSON.parse(got.stdout).task).toMatchObject({ type: "deploy", org: "demo", payload: { sha: "abc123" }, source: { kind: "webhook", event: "push" } });
  });

  it("says which field the edge refused", async () => {
    const dir = await mkdtemp(join(tmpdir(), "sfp-cli-hook-"));
    await writeFile(join(dir, "rules.json"), "[]");
    const res = await sfp("webhook-source", "put", "bad", "--kind", "github", "--rules-file", join(dir, "rules.json"));
    expect(res.code).toBe(1);
    expect(res.stderr).toMatch(/secret.*\(invalid_request, HTTP 400/);
  });
});
