// The runners' live chart in headless Chromium, fed by a real manager: while its worker deploys, the
// `runner` messages the edge pushes on the project feed with each heartbeat add samples to the
// runner's sparkline without a reload, and the task's page shows the worker's own CPU and memory from
// the task socket's `resources` messages, and once the task has finished, the peaks stored on it. Needs the edge's pushed runner load (issue 16, branch
// `live`): the owner's runner-list poll alone never counts as a feed sample here.
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { BrowserContext, Page } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { Task } from "../../protocol/index.ts";
import { metadataZip } from "../doubles/salesforce-fixtures.ts";
import { chromiumAvailable, openDashboard } from "./dashboard-browser.ts";
import { waitFor } from "./manager-process.ts";
import { STEP_MS, startStack, type Stack } from "./stack.ts";

const haveChromium = chromiumAvailable("the dashboard runner chart test");
const HOLD = 1_000_000;

describe.skipIf(!haveChromium)("the runners' live chart, with a real runner", () => {
  let stack: Stack;
  let profile: string;
  let context: BrowserContext;
  let page: Page;

  beforeAll(async () => {
    // A 9 s lease: the manager heartbeats every 3 s, so samples come often.
    stack = await startStack({ name: "dash-chart", orgs: { demo: {} }, edgeVars: { LEASE_SECONDS: "9" } });
    profile = await mkdtemp(join(tmpdir(), "sfp-chromium-"));
    ({ context, page } = await openDashboard(stack.edge.url, stack.project, stack.owner, profile, 60_000));
  }, 240_000);

  afterAll(async () => {
    stack.org.controls.deployPolls = 1;
    await context?.close();
    await stack?.stop();
    if (profile) await rm(profile, { recursive: true, force: true });
  });

  it(
    "moves a busy runner's chart from the feed without a reload, and shows the task's own load",
    async () => {
      stack.org.controls.deployPolls = HOLD;
      const before = stack.org.deployIds().length;
      const { body } = await stack.api.request<{ task: Task }>("POST", `/v1/projects/${stack.project}/tasks`, {
        body: { type: "deploy", org: "demo", payload: { zipBase64: metadataZip().toString("base64") } },
      });
      await waitFor(() => stack.org.deployIds()[before], STEP_MS, "the worker to start the deploy");

      const chart = page.locator("#runners tbody tr svg.spark").first();
      await chart.waitFor({ timeout: STEP_MS });
      const feedPoints = async () => Number(await chart.getAttribute("data-feed-points"));
      await expect.poll(feedPoints, { timeout: STEP_MS, interval: 250 }).toBeGreaterThanOrEqual(2);
      const first = { points: await feedPoints(), line: await chart.locator("polyline.cpu").getAttribute("points") };
      // Two more heartbeats later the chart has moved: more samples, another line, same page load.
      await expect.poll(feedPoints, { timeout: STEP_MS, interval: 250 }).toBeGreaterThanOrEqual(first.points + 2);
      expect(await chart.locator("polyline.cpu").getAttribute("points")).not.toBe(first.line);
      const row = page.locator("#runners tbody tr").first();
      expect((await row.locator("td").nth(3).textContent()) ?? "").toMatch(/^1\//);

      // The task's page: the worker's CPU and memory from the task socket.
      await page.evaluate(`location.hash = '#/tasks/${body.task.id}'`);
      await page.waitForSelector('#task-status[data-status="running"]', { timeout: STEP_MS });
      await page.waitForSelector("#task-resources:visible", { timeout: STEP_MS });
      expect(await page.textContent("#task-resources")).toMatch(/^CPU \d+% · [\d.]+ (B|KiB|MiB|GiB) now/);
      expect(await page.textContent('#task-facts dd[data-fact="lease-holder"]')).toMatch(/\(rnr_/);

      await stack.api.request("POST", `/v1/tasks/${body.task.id}/cancel`);
      await page.waitForSelector('#task-status[data-status="canceled"]', { timeout: STEP_MS });

      // Finished, no more samples come: the page, opened afresh, shows the peaks stored on the task.
      const stored = (await stack.api.request<{ task: Task }>("GET", `/v1/tasks/${body.task.id}`)).body.task.resources;
      expect(stored?.peakMemoryRssBytes).toBeGreaterThan(0);
      await page.evaluate(`location.hash = '#/'`);
      await page.evaluate(`location.hash = '#/tasks/${body.task.id}'`);
      await page.waitForSelector('#task-status[data-status="canceled"]', { timeout: STEP_MS });
      await page.waitForSelector("#task-resources[data-peak-memory]:visible", { timeout: STEP_MS });
      expect(await page.getAttribute("#task-resources", "data-peak-memory")).toBe(String(stored?.peakMemoryRssBytes));
      expect(await page.getAttribute("#task-resources", "data-peak-cpu")).toBe(String(stored?.peakCpuPercent));
      expect(await page.textContent("#task-resources")).toMatch(/^Peak CPU \d+% · [\d.]+ (B|KiB|MiB|GiB) \(last sampled /);
    },
    4 * STEP_MS,
  );
});
