// Protected orgs (issue 13): a task that would change a protected org (production ones by default)
// waits in `awaiting_approval` until an owner or an `approver` token approves (it then waits for the
// org's lock) or rejects it (canceled); nobody deciding in time fails it with `approval_expired`.
import { evictDurableObject, runDurableObjectAlarm } from "cloudflare:test";
import { describe, expect, it } from "vitest";
import { api, createTask, newProject, newToken, putOrg } from "./helpers.ts";
import { dueNow, events, line, until } from "./org-lock-helpers.ts";
import { accept, poll, pollOne, readTask, register, taskActor } from "./runner-helpers.ts";

/** A project whose `prod` org is production (so protected by default), with a runner and tokens of each role. */
async function protectedProject(orgBody: Record<string, unknown> = {}) {
  const { project, owner } = await newProject();
  await putOrg(project, owner, "prod", { isProduction: true, ...orgBody });
  const runner = await register(project, owner);
  const ci = await newToken(project, owner, "ci");
  const member = await newToken(project, owner, "member");
  const approver = await newToken(project, owner, "approver");
  const viewer = await newToken(project, owner, "viewer");
  return { project, owner, runner, ci, member, approver, viewer };
}

function decide(decision: "approve" | "reject", token: string, taskId: string) {
  return api("POST", `/v1/tasks/${taskId}/${decision}`, { token });
}

describe("a deploy to a protected org", () => {
  it("waits in awaiting_approval, offered to no runner, with a deadline a day away by default", async () => {
    const { project, runner, ci } = await protectedProject();
    const before = Date.now();
    const task = await createTask(project, ci.token, { org: "prod" });
    expect(task.status).toBe("awaiting_approval");
    const expiresAt = Date.parse(task.approval?.expiresAt ?? "");
    expect(expiresAt).toBeGreaterThanOrEqual(before + 24 * 3600 * 1000);
    expect(expiresAt).toBeLessThan(Date.now() + 24 * 3600 * 1000 + 1000);
    expect((await events(ci.token, task.id)).map((e) => e.type === "approval" && e.decision)).toContain("required");
    expect((await poll(runner.runnerToken)).status).toBe(204);
    // Waiting for approval holds no place at the org's lock.
    expect(await line(project, "prod")).toEqual([]);
    const list = await api("GET", `/v1/projects/${project}/tasks?status=awaiting_approval`, { token: ci.token });
    expect(list.body.tasks.map((t: { id: string }) => t.id)).toEqual([task.id]);
  });

  it("does not wait for approval on an org marked not protected, nor on a sandbox", async () => {
    const { project, owner, ci } = await protectedProject({ protected: false });
    await putOrg(project, owner, "uat");
    expect((await createTask(project, ci.token, { org: "prod" })).status).toBe("queued");
    expect((await createTask(project, ci.token, { org: "uat" })).status).toBe("queued");
  });

  it("makes read-only types to a protected org wait for nobody", async () => {
    const { project, ci } = await protectedProject();
    for (const type of ["retrieve", "run-tests", "query", "org-check"]) {
      expect((await createTask(project, ci.token, { org: "prod", type })).status).toBe("queued");
    }
  });

  it("lets neither a member, a ci nor a viewer token approve or reject (403), and another project's owner sees 404", async () => {
    const { project, ci, member, viewer } = await protectedProject();
    const task = await createTask(project, ci.token, { org: "prod" });
    for (const token of [member.token, ci.token, viewer.token]) {
      for (const decision of ["approve", "reject"] as const) {
        const res = await decide(decision, token, task.id);
        expect(res.status).toBe(403);
        expect(res.body.error.code).toBe("forbidden");
        expect(res.body.error.requestId).toBeTruthy();
      }
    }
    const other = await newProject("other");
    expect((await decide("approve", other.owner, task.id)).status).toBe(404);
    expect((await readTask(ci.token, task.id)).status).toBe("awaiting_approval");
  });

  it("runs once an approver approves: queued, the lock, a runner; who and when in the events", async () => {
    const { project, runner, ci, approver } = await protectedProject();
    const task = await createTask(project, ci.token, { org: "prod" });
    const res = await decide("approve", approver.token, task.id);
    expect(res.status).toBe(200);
    expect(res.body.task.status).toBe("queued");
    expect(res.body.task.approval).toMatchObject({ decision: "approved", by: approver.id });
    expect(Date.parse(res.body.task.approval.at)).toBeGreaterThan(0);
    const offer = await pollOne(runner.runnerToken);
    expect(offer.taskId).toBe(task.id);
    expect((await accept(runner.runnerToken, task.id, offer.assignmentId)).status).toBe(200);
    const approval = (await events(ci.token, task.id)).find((e) => e.type === "approval" && e.decision === "approved");
    expect(approval).toMatchObject({ by: approver.id, role: "approver", org: "prod" });
    expect(Date.parse(approval?.at ?? "")).toBeGreaterThan(0);
    // Approving again is a conflict: the task is no longer awaiting approval.
    const again = await decide("approve", approver.token, task.id);
    expect(again.status).toBe(409);
    expect(again.body.error.code).toBe("conflict");
  });

  it("lets the owner approve too, and an approved task still waits its turn at the lock", async () => {
    const { project, owner, ci } = await protectedProject({ protected: false });
    const holder = await createTask(project, ci.token, { org: "prod" });
    await putOrg(project, owner, "prod", { protected: true });
    const task = await createTask(project, ci.token, { org: "prod" });
    expect(task.status).toBe("awaiting_approval");
    expect((await decide("approve", owner, task.id)).status).toBe(200);
    const waiting = await until(owner, task.id, (t) => t.waitingFor !== undefined, "waiting for the lock");
    expect(waiting.waitingFor).toEqual({ org: "prod", position: 1, holder: holder.id });
  });

  it("is canceled when rejected, the rejecter in its events; a finished task's approval is 409 already_finished", async () => {
    const { project, owner, ci } = await protectedProject();
    const task = await createTask(project, ci.token, { org: "prod" });
    const res = await decide("reject", owner, task.id);
    expect(res.status).toBe(200);
    expect(res.body.task.status).toBe("canceled");
    expect(res.body.task.approval).toMatchObject({ decision: "rejected" });
    const ownerTokenId = res.body.task.approval.by;
    expect(ownerTokenId).toMatch(/^tok_/);
    expect((await events(owner, task.id)).find((e) => e.type === "approval" && e.decision === "rejected")).toMatchObject({ by: ownerTokenId, role: "owner" });
    const late = await decide("approve", owner, task.id);
    expect(late.status).toBe(409);
    expect(late.body.error.code).toBe("already_finished");
  });

  it("can be canceled while it awaits approval", async () => {
    const { project, owner, ci } = await protectedProject();
    const task = await createTask(project, ci.token, { org: "prod" });
    const res = await api("POST", `/v1/tasks/${task.id}/cancel`, { token: owner });
    expect(res.status).toBe(202);
    expect(res.body.task.status).toBe("canceled");
  });

  it("fails with approval_expired when nobody decides in time (the org's approvalTimeoutSeconds)", async () => {
    const { project, ci } = await protectedProject({ approvalTimeoutSeconds: 60 });
    const before = Date.now();
    const task = await createTask(project, ci.token, { org: "prod" });
    const deadline = Date.parse(task.approval?.expiresAt ?? "");
    expect(deadline).toBeGreaterThanOrEqual(before + 60_000);
    expect(deadline).toBeLessThan(before + 24 * 3600 * 1000);
    await dueNow(task.id, "approval");
    await runDurableObjectAlarm(taskActor(task.id));
    const failed = await readTask(ci.token, task.id);
    expect(failed.status).toBe("failed");
    expect(failed.error?.code).toBe("approval_expired");
    expect((await events(ci.token, task.id)).some((e) => e.type === "approval" && e.decision === "expired")).toBe(true);
  });

  it("keeps waiting for approval across an eviction, and approval and expiry still work afterwards", async () => {
    const { project, runner, ci, approver } = await protectedProject();
    const approved = await createTask(project, ci.token, { org: "prod" });
    const expiring = await createTask(project, ci.token, { org: "prod" });
    await evictDurableObject(taskActor(approved.id));
    await evictDurableObject(taskActor(expiring.id));
    expect((await readTask(ci.token, approved.id)).status).toBe("awaiting_approval");
    expect((await decide("approve", approver.token, approved.id)).status).toBe(200);
    expect((await pollOne(runner.runnerToken)).taskId).toBe(approved.id);
    await dueNow(expiring.id, "approval");
    await runDurableObjectAlarm(taskActor(expiring.id));
    expect((await readTask(ci.token, expiring.id)).error?.code).toBe("approval_expired");
  });
});

describe("org settings", () => {
  it("shows protected, maxConcurrentDeploys and approvalTimeoutSeconds with their defaults", async () => {
    const { project, owner } = await newProject();
    expect(await putOrg(project, owner, "uat")).toMatchObject({ protected: false, maxConcurrentDeploys: 1, approvalTimeoutSeconds: 86_400 });
    expect(await putOrg(project, owner, "prod", { isProduction: true })).toMatchObject({ protected: true });
    // Left out, protected keeps following isProduction; set, it stays as set.
    expect(await putOrg(project, owner, "prod", { isProduction: false })).toMatchObject({ protected: false });
    expect(await putOrg(project, owner, "prod", { protected: true })).toMatchObject({ protected: true, isProduction: false });
    expect(await putOrg(project, owner, "prod", { maxConcurrentDeploys: 3 })).toMatchObject({ protected: true, maxConcurrentDeploys: 3 });
  });

  it("refuses bad settings with 400 naming the field", async () => {
    const { project, owner } = await newProject();
    for (const [body, field] of [
      [{ maxConcurrentDeploys: 0 }, "maxConcurrentDeploys"],
      [{ maxConcurrentDeploys: 21 }, "maxConcurrentDeploys"],
      [{ maxConcurrentDeploys: 1.5 }, "maxConcurrentDeploys"],
      [{ approvalTimeoutSeconds: 59 }, "approvalTimeoutSeconds"],
      [{ approvalTimeoutSeconds: 8 * 24 * 3600 }, "approvalTimeoutSeconds"],
      [{ protected: "yes" }, "protected"],
    ] as const) {
      const res = await api("PUT", `/v1/projects/${project}/orgs/uat`, { token: owner, body });
      expect(res.status).toBe(400);
      expect(res.body.error).toMatchObject({ code: "invalid_request", field });
    }
  });

  it("documents the approve and reject routes and the new fields in the OpenAPI document", async () => {
    const doc = (await api("GET", "/v1/openapi.json")).body;
    expect(Object.keys(doc.paths)).toEqual(expect.arrayContaining(["/v1/tasks/{id}/approve", "/v1/tasks/{id}/reject"]));
    expect(doc.components.schemas.TaskStatus.enum).toContain("awaiting_approval");
    expect(Object.keys(doc.components.schemas.Task.properties)).toEqual(expect.arrayContaining(["waitingFor", "approval"]));
    expect(doc.components.schemas.Role.enum).toContain("approver");
    expect(Object.keys(doc.components.schemas.PutOrgBody.properties)).toEqual(
      expect.arrayContaining(["protected", "maxConcurrentDeploys", "approvalTimeoutSeconds"]),
    );
  });
});
