// The dashboard served by the edge, in headless Chromium: sign in, see a task appear live over the
// project feed when it is created through the API, see its status change live, open its page for
// events, filter the list, approve or reject from a task's page by role. A running deploy's page
// (progress, log, result, cancel) is in dashboard-task-page.test.ts, with a real runner.
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { BrowserContext, Page } from "playwright-core";
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { EdgeClient } from "../../protocol/client.ts";
import type { Registered, Task } from "../../protocol/index.ts";
import { chromiumAvailable, openDashboard } from "./dashboard-browser.ts";
import { createProject, startEdge, type Edge } from "./edge-process.ts";

const haveChromium = chromiumAvailable("the dashboard tests");

describe.skipIf(!haveChromium)("the dashboard", () => {
  let edge: Edge;
  let project: string;
  let api: EdgeClient;
  let profile: string;
  let context: BrowserContext;
  let page: Page;

  let receiver: Server;
  let receiverUrl: string;
  beforeAll(async () => {
    // A notification receiver on loopback that refuses every delivery (the endpoints panel shows it).
    receiver = createServer((_req, res) => res.writeHead(500).end());
    await new Promise<void>((resolve) => receiver.listen(0, "127.0.0.1", resolve));
    receiverUrl = `http://127.0.0.1:${(receiver.address() as AddressInfo).port}/hooks`;
    edge = await startEdge({ vars: { SFP_ALLOW_LOOPBACK_ENDPOINTS: "1" } });
    let owner: string;
    ({ project, ownerToken: owner } = await createProject(edge, "dashboard"));
    api = new EdgeClient(edge.url, owner);
    await api.request("PUT", `/v1/projects/${project}/orgs/demo`, { body: {} });
    profile = await mkdtemp(join(tmpdir(), "sfp-chromium-"));
    ({ context, page } = await openDashboard(edge.url, project, owner, profile));
  });

  afterAll(async () => {
    receiver?.close();
    await context?.close();
    await edge?.stop();
    if (profile) await rm(profile, { recursive: true, force: true });
  });

  const row = (id: string) => page.locator(`#tasks tr[data-id="${id}"]`);
  // Strings, evaluated in the page: the test's own type-check has no DOM library.
  const board = () => page.evaluate("location.hash = '#/'");

  it("shows a task the moment it is created through the API, and its status change", async () => {
    const { body } = await api.request<{ task: Task }>("POST", `/v1/projects/${project}/tasks`, { body: { type: "validate", org: "demo" } });
    const id = body.task.id;
    await row(id).waitFor();
    expect(await row(id).getAttribute("data-status")).toBe("queued");
    expect(await row(id).locator("td").nth(1).textContent()).toBe("validate");

    await api.request("POST", `/v1/tasks/${id}/cancel`);
    await page.waitForSelector(`#tasks tr[data-id="${id}"][data-status="canceled"]`);
  });

  it("opens a task for its events, and keeps them coming live", async () => {
    const { body } = await api.request<{ task: Task }>("POST", `/v1/projects/${project}/tasks`, { body: { type: "deploy", org: "demo" } });
    const id = body.task.id;
    await row(id).click();
    await page.waitForSelector("#task-events li:has-text('status queued')");
    expect(page.url()).toMatch(new RegExp(`#/tasks/${id}$`));
    expect(await page.textContent("#task-status")).toBe("queued");
    expect(await page.textContent('#task-facts dd[data-fact="created-by"]')).toMatch(/^API \(tok_/);
    await api.request("POST", `/v1/tasks/${id}/cancel`);
    await page.waitForSelector("#task-events li:has-text('status canceled')");
    expect(await page.textContent("#task-status")).toBe("canceled");
    expect(await page.locator("#task-events li").count()).toBe(2);
    await board();
    await row(id).waitFor();
  });

  it("opens a task's page from the link notifications carry (#task=<id>)", async () => {
    const { body } = await api.request<{ task: Task }>("POST", `/v1/projects/${project}/tasks`, { body: { type: "org-check", org: "demo" } });
    await page.goto(`${edge.url}/#task=${body.task.id}`);
    await page.waitForSelector("#task-events li:has-text('status queued')");
    expect(page.url()).toMatch(new RegExp(`#/tasks/${body.task.id}$`));
    await api.request("POST", `/v1/tasks/${body.task.id}/cancel`);
    await board();
  });

  it("narrows the list by status, type, org and source, from the edge", async () => {
    await api.request("PUT", `/v1/projects/${project}/orgs/uat`, { body: {} });
    const create = async (type: string, org: string) =>
      (await api.request<{ task: Task }>("POST", `/v1/projects/${project}/tasks`, { body: { type, org } })).body.task;
    const query = await create("query", "uat");
    const check = await create("org-check", "uat");
    const retrieve = await create("retrieve", "demo");
    await api.request("POST", `/v1/tasks/${check.id}/cancel`);
    await page.reload();
    await page.waitForSelector("#feed-state.live");
    const shown = async () => (await page.evaluate("[...document.querySelectorAll('#tasks tbody tr')].map((r) => r.dataset.id)")) as string[];
    const choose = async (name: string, value: string) => {
      await page.selectOption(`#filters select[name="${name}"]`, value);
      await page.waitForSelector("#filters-note:has-text('Filtered by the edge')");
    };
    await choose("org", "uat");
    await expect.poll(shown).toEqual([check.id, query.id]);
    await choose("status", "canceled");
    await expect.poll(shown).toEqual([check.id]);
    await page.selectOption('#filters select[name="status"]', "");
    await choose("type", "query");
    await expect.poll(shown).toEqual([query.id]);
    // A task made while the filter is on joins the list live only when it matches.
    const later = await create("query", "uat");
    await create("query", "demo");
    await expect.poll(shown).toEqual([later.id, query.id]);
    await page.click('#filters button[type="reset"]');
    await choose("source", "webhook");
    await expect.poll(shown).toEqual([]);
    await page.selectOption('#filters select[name="source"]', "api");
    await expect.poll(shown).toEqual(expect.arrayContaining([later.id, retrieve.id, query.id]));
    await page.click('#filters button[type="reset"]');
    for (const t of [query, retrieve, later]) await api.request("POST", `/v1/tasks/${t.id}/cancel`);
  });

  it("shows where a deploy waits for its org's lock, and a task awaiting approval (issue 13)", async () => {
    await api.request("PUT", `/v1/projects/${project}/orgs/locked`, { body: {} });
    await api.request("PUT", `/v1/projects/${project}/orgs/prod`, { body: { isProduction: true } });
    const create = async (org: string) =>
      (await api.request<{ task: Task }>("POST", `/v1/projects/${project}/tasks`, { body: { type: "deploy", org } })).body.task;
    const holder = await create("locked");
    const waiter = await create("locked");
    await page.waitForSelector(`#tasks tr[data-id="${waiter.id}"] td:has-text("queued · #1 for locked")`);
    await page.waitForSelector(`#orgs tr[data-org="locked"] td:has-text("2")`);
    await row(waiter.id).click();
    await page.waitForSelector(`#task-events li:has-text('lock: waiting for org locked, position 1, held by ${holder.id}')`);
    expect(await page.textContent("#task-status")).toBe("queued · #1 for locked");
    await board();
    const gated = await create("prod");
    await page.waitForSelector(`#tasks tr[data-id="${gated.id}"][data-status="awaiting_approval"] td:has-text("awaiting approval")`);
    await row(gated.id).click();
    // An owner may approve, reject and cancel; the page shows all three while the task awaits approval.
    await page.waitForSelector("#task-approve:visible");
    expect(await page.isVisible("#task-reject")).toBe(true);
    expect(await page.isVisible("#task-cancel")).toBe(true);
    await page.click("#task-reject");
    await page.waitForSelector("#task-events li:has-text('approval rejected')");
    await page.waitForSelector('#task-status[data-status="canceled"]');
    expect(await page.isHidden("#task-approve")).toBe(true);
    expect(await page.isHidden("#task-cancel")).toBe(true);
    await board();
    await page.waitForSelector(`#tasks tr[data-id="${gated.id}"][data-status="canceled"]`);

    // An approver sees approve and reject but no cancel; approving sends the task back to its org's lock.
    const again = await create("prod");
    const approver = await api.request<{ token: string }>("POST", `/v1/projects/${project}/tokens`, { body: { name: "approver", role: "approver" } });
    const other = await mkdtemp(join(tmpdir(), "sfp-chromium-"));
    const second = await openDashboard(edge.url, project, approver.body.token, other);
    try {
      expect(await second.page.textContent("#role")).toBe("approver");
      await second.page.evaluate(`location.hash = '#/tasks/${again.id}'`);
      await second.page.waitForSelector("#task-approve:visible");
      expect(await second.page.isHidden("#task-cancel")).toBe(true);
      await second.page.click("#task-approve");
      await second.page.waitForSelector("#task-events li:has-text('approval approved')");
      await second.page.waitForSelector('#task-status[data-status="queued"]');
      expect(await second.page.isHidden("#task-approve")).toBe(true);
    } finally {
      await second.context.close();
      await rm(other, { recursive: true, force: true });
    }
    for (const t of [waiter, holder, again]) await api.request("POST", `/v1/tasks/${t.id}/cancel`);
  }, 120_000);

  it("shows a viewer no cancel, approve or reject button, and says the role", async () => {
    const gated = (await api.request<{ task: Task }>("POST", `/v1/projects/${project}/tasks`, { body: { type: "deploy", org: "prod" } })).body.task;
    const viewer = await api.request<{ token: string }>("POST", `/v1/projects/${project}/tokens`, { body: { name: "viewer", role: "viewer" } });
    const other = await mkdtemp(join(tmpdir(), "sfp-chromium-"));
    const second = await openDashboard(edge.url, project, viewer.body.token, other);
    try {
      expect(await second.page.textContent("#role")).toBe("viewer");
      await second.page.evaluate(`location.hash = '#/tasks/${gated.id}'`);
      await second.page.waitForSelector('#task-status[data-status="awaiting_approval"]');
      await second.page.waitForSelector("#task-events li:has-text('approval required')");
      for (const button of ["#task-cancel", "#task-approve", "#task-reject"]) expect(await second.page.isHidden(button)).toBe(true);
      // Owners' panels say they are owners' without erroring.
      await second.page.evaluate("location.hash = '#/'");
      await second.page.waitForSelector("#endpoints-note:has-text('Only owners')");
    } finally {
      await second.context.close();
      await rm(other, { recursive: true, force: true });
    }
    await api.request("POST", `/v1/tasks/${gated.id}/cancel`);
  }, 120_000);

  it("shows the runners panel, empty before any runner registers", async () => {
    // A string, evaluated in the page: the test's own type-check has no DOM library.
    await page.waitForFunction("document.querySelector('#runners-note').textContent.length > 0 || document.querySelectorAll('#runners tbody tr').length > 0");
    const note = await page.textContent("#runners-note");
    expect(note).toMatch(/No runners registered/);
  });

  it("lists a registered runner with its load after a reload, signed in from session storage", async () => {
    const reg = await api.request<{ token: string }>("POST", `/v1/projects/${project}/registration-tokens`, { body: { pool: "default" } });
    const { body: runner } = await new EdgeClient(edge.url).request<Registered>("POST", "/v1/runners/register", {
      body: { registrationToken: reg.body.token, name: "dash-runner", labels: [], slots: 4, ephemeral: false, version: "test" },
    });
    await new EdgeClient(edge.url, runner.runnerToken).request("POST", "/v1/runners/heartbeat", {
      body: { state: "busy", freeSlots: 1, activeTasks: [], resources: { cpuPercent: 37, memoryRssBytes: 200 * 1048576, load1: 0.5 } },
    });
    await page.reload();
    await page.waitForSelector("#feed-state.live");
    const runnerRow = page.locator("#runners tbody tr", { hasText: "dash-runner" });
    await runnerRow.waitFor();
    expect((await runnerRow.locator("td").allTextContents()).slice(0, 6)).toEqual(["dash-runner", "default", "busy", "3/4", "37%", "200 MiB"]);
    // Its chart has the heartbeat's sample, and its pool counts its slots.
    expect(await runnerRow.locator("svg.spark").getAttribute("data-points")).toBe("1");
    expect(await page.locator('#pools tr[data-pool="default"] td').allTextContents()).toEqual(["default", "1", "3/4", expect.any(String), expect.any(String)]);
  });

  it("lists the notification endpoints with their newest delivery (issue 14)", async () => {
    await api.request("PUT", `/v1/projects/${project}/notification-endpoints/ci-hooks`, { body: { url: receiverUrl, events: ["task.canceled"] } });
    const { body } = await api.request<{ task: Task }>("POST", `/v1/projects/${project}/tasks`, { body: { type: "query", org: "demo", payload: {} } });
    await api.request("POST", `/v1/tasks/${body.task.id}/cancel`);
    await page.reload();
    const endpointRow = page.locator('#endpoints tbody tr[data-name="ci-hooks"]');
    await endpointRow.waitFor();
    // The receiver answered 500: the delivery stays pending, its code shown.
    await expect
      .poll(async () => (await endpointRow.locator("td").allTextContents()).join(" | "), { timeout: 30_000, interval: 500 })
      .toMatch(/^ci-hooks \| 127\.0\.0\.1:\d+ \| enabled \| task\.canceled pending \(1 attempt, HTTP 500, /);
  });

  it("keeps the token in this tab's session storage only", async () => {
    expect(await page.evaluate(() => sessionStorage.getItem("sfp.project"))).toBe(project);
    expect(await page.evaluate(() => localStorage.length)).toBe(0);
  });
});
