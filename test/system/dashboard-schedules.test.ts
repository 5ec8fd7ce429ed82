// The dashboard's schedules panel (issue 15) in headless Chromium: each schedule with its cron,
// timezone, task and next run (the UTC instant on hover), a paused one as paused.
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { BrowserContext, Page } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { EdgeClient } from "../../protocol/client.ts";
import type { Schedule } from "../../protocol/index.ts";
import { chromiumAvailable, openDashboard } from "./dashboard-browser.ts";
import { createProject, startEdge, type Edge } from "./edge-process.ts";

const haveChromium = chromiumAvailable("the dashboard schedules test");

describe.skipIf(!haveChromium)("the dashboard's schedules panel", () => {
  let edge: Edge;
  let project: string;
  let api: EdgeClient;
  let profile: string;
  let context: BrowserContext;
  let page: Page;

  beforeAll(async () => {
    edge = await startEdge();
    let owner: string;
    ({ project, ownerToken: owner } = await createProject(edge, "dashboard-schedules"));
    api = new EdgeClient(edge.url, owner);
    await api.request("PUT", `/v1/projects/${project}/orgs/demo`, { body: {} });
    profile = await mkdtemp(join(tmpdir(), "sfp-chromium-"));
    ({ context, page } = await openDashboard(edge.url, project, owner, profile));
  });

  afterAll(async () => {
    await context?.close();
    await edge?.stop();
    if (profile) await rm(profile, { recursive: true, force: true });
  });

  it("lists each schedule with its next run, and a paused one as paused", async () => {
    await page.waitForFunction("document.querySelector('#schedules-note').textContent.includes('No schedules')");
    const task = { type: "run-tests", org: "demo" };
    const { body } = await api.request<{ schedule: Schedule }>("PUT", `/v1/projects/${project}/schedules/nightly`, {
      body: { cron: "0 22 * * 1-5", timezone: "Europe/Berlin", task },
    });
    await api.request("PUT", `/v1/projects/${project}/schedules/weekly`, { body: { cron: "0 6 * * 1", task, enabled: false } });
    await page.reload();
    const nightly = page.locator('#schedules tbody tr[data-name="nightly"]');
    await nightly.waitFor();
    const cells = nightly.locator("td");
    expect((await cells.allTextContents()).slice(0, 3)).toEqual(["nightly", "0 22 * * 1-5 (Europe/Berlin)", "run-tests on demo"]);
    expect(body.schedule.nextRunAt).toMatch(/Z$/);
    expect(await cells.nth(3).getAttribute("title")).toBe(body.schedule.nextRunAt);
    expect(await page.locator('#schedules tbody tr[data-name="weekly"] td').nth(3).textContent()).toBe("paused");
  });
});
