// The task list's filters (type, org, source, with status) and `whoami`: what the dashboard's
// filters and role-dependent buttons read from the server.
import { describe, expect, it } from "vitest";
import type { TaskSummary } from "../../protocol/index.ts";
import { api, createTask, ingestSettled, newToken, putOrg, setup } from "./helpers.ts";
import { deliver, githubSignature, GITHUB_SECRET, putSource } from "./webhooks-helpers.ts";

const ids = (tasks: TaskSummary[]) => tasks.map((t) => t.id).sort();

async function list(project: string, token: string, query: string) {
  await ingestSettled();
  return api("GET", `/v1/projects/${project}/tasks?${query}`, { token });
}

describe("filtering the task list", () => {
  it("narrows by type, org and source (api, webhook, webhook:<name>), combined with status", async () => {
    const { project, owner } = await setup();
    await putOrg(project, owner, "uat");
    const deployDemo = await createTask(project, owner, { type: "deploy", org: "demo" });
    const validateDemo = await createTask(project, owner, { type: "validate", org: "demo" });
    const queryUat = await createTask(project, owner, { type: "query", org: "uat" });
    const source = await putSource(project, owner, "gh-main", {
      kind: "github",
      secret: GITHUB_SECRET,
      rules: [{ on: "push", task: { type: "query", org: "uat" } }],
    });
    const push = JSON.stringify({ ref: "refs/heads/main", after: "a".repeat(40) });
    const res = await deliver(source.id, push, {
      "content-type": "application/json",
      "x-github-event": "push",
      "x-github-delivery": crypto.randomUUID(),
      "x-hub-signature-256": await githubSignature(push),
    });
    expect(res.status).toBe(202);
    const [hooked] = res.json.tasks ?? [];
    const viewer = (await newToken(project, owner, "viewer")).token;

    expect(ids((await list(project, viewer, "type=deploy")).body.tasks)).toEqual([deployDemo.id]);
    expect(ids((await list(project, viewer, "org=demo")).body.tasks)).toEqual(ids([deployDemo, validateDemo]));
    expect(ids((await list(project, viewer, "org=uat&type=query")).body.tasks)).toEqual(ids([queryUat, { id: hooked } as TaskSummary]));
    expect(ids((await list(project, viewer, "source=api&org=uat")).body.tasks)).toEqual([queryUat.id]);
    expect(ids((await list(project, viewer, "source=webhook")).body.tasks)).toEqual([hooked]);
    expect(ids((await list(project, viewer, "source=webhook:gh-main")).body.tasks)).toEqual([hooked]);
    expect((await list(project, viewer, "source=webhook:other")).body.tasks).toEqual([]);

    await api("POST", `/v1/tasks/${validateDemo.id}/cancel`, { token: owner });
    await expect.poll(async () => ids((await list(project, viewer, "status=canceled&org=demo")).body.tasks)).toEqual([validateDemo.id]);
    expect((await list(project, viewer, "status=canceled&org=uat")).body.tasks).toEqual([]);
  });

  it("pages a filtered list with its cursor", async () => {
    const { project, owner } = await setup();
    const made = [];
    for (let i = 0; i < 3; i++) made.push(await createTask(project, owner, { type: "query" }));
    await createTask(project, owner, { type: "deploy" });
    const first = await list(project, owner, "type=query&limit=2");
    expect(first.body.tasks).toHaveLength(2);
    const second = await list(project, owner, `type=query&limit=2&cursor=${first.body.cursor}`);
    expect(second.body.cursor).toBeNull();
    expect(ids([...first.body.tasks, ...second.body.tasks])).toEqual(ids(made));
  });

  it.each([
    ["type=explode", "type"],
    ["org=bad%20alias", "org"],
    ["source=cron", "source"],
    ["source=webhook:", "source"],
  ])("answers 400 naming the field for %s", async (query, field) => {
    const { project, owner } = await setup();
    const res = await api("GET", `/v1/projects/${project}/tasks?${query}`, { token: owner });
    expect(res.status).toBe(400);
    expect(res.body.error).toMatchObject({ code: "invalid_request", field });
    expect(res.body.error.requestId).toBeTruthy();
  });
});

describe("GET /v1/projects/:project/whoami", () => {
  it.each([
    ["owner", ["project:admin", "task:create", "task:cancel", "task:approve", "read"]],
    ["member", ["task:create", "task:cancel", "read"]],
    ["ci", ["task:create", "read"]],
    ["viewer", ["read"]],
    ["approver", ["task:approve", "read"]],
  ] as const)("tells a %s token its role and permissions", async (role, permissions) => {
    const { project, owner } = await setup();
    const { id, token } = await newToken(project, owner, role);
    const res = await api("GET", `/v1/projects/${project}/whoami`, { token });
    expect(res.status).toBe(200);
    expect(res.body).toEqual({ project, tokenId: id, role, permissions });
  });

  it("answers 401 without a token and 404 to another project's token", async () => {
    const a = await setup("a");
    const b = await setup("b");
    expect((await api("GET", `/v1/projects/${a.project}/whoami`, {})).status).toBe(401);
    const other = await api("GET", `/v1/projects/${a.project}/whoami`, { token: b.owner });
    expect(other.status).toBe(404);
    expect(other.body.error.code).toBe("not_found");
  });
});
