// A task's page in the dashboard, in headless Chromium, while a real runner deploys to the
// Salesforce double: the progress bar moves and the log follows live, then the result shows; cancel
// from the page works with the owner token, and a viewer's page of the same task has no cancel button
// (it catches up on the log so far over HTTP, each line once).
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { BrowserContext, Page } from "playwright-core";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import type { Task } from "../../protocol/index.ts";
import { metadataZip } from "../doubles/salesforce-fixtures.ts";
import { chromiumAvailable, openDashboard } from "./dashboard-browser.ts";
import { waitFor } from "./manager-process.ts";
import { STEP_MS, startStack, type Stack } from "./stack.ts";

const haveChromium = chromiumAvailable("the dashboard task page tests");
const ZIP = metadataZip().toString("base64");
/** Status checks a deploy stays InProgress: in effect until the test lowers it. */
const HOLD = 1_000_000;

describe.skipIf(!haveChromium)("a task's page, with a real runner", () => {
  let stack: Stack;
  let profile: string;
  let context: BrowserContext;
  let page: Page;

  beforeAll(async () => {
    stack = await startStack({ name: "dash-task", orgs: { demo: {} } });
    profile = await mkdtemp(join(tmpdir(), "sfp-chromium-"));
    ({ context, page } = await openDashboard(stack.edge.url, stack.project, stack.owner, profile, 60_000));
  }, 240_000);

  afterEach(() => {
    stack.org.controls.deployPolls = 1;
  });

  afterAll(async () => {
    await context?.close();
    await stack?.stop();
    if (profile) await rm(profile, { recursive: true, force: true });
  });

  async function deploy(): Promise<{ id: string; deployId: string }> {
    const before = stack.org.deployIds().length;
    const { body } = await stack.api.request<{ task: Task }>("POST", `/v1/projects/${stack.project}/tasks`, {
      body: { type: "deploy", org: "demo", payload: { zipBase64: ZIP } },
    });
    const deployId = await waitFor(() => stack.org.deployIds()[before], STEP_MS, "the worker to start the deploy");
    return { id: body.task.id, deployId };
  }

  const statusChecks = (deployId: string) => stack.org.requests.filter((r) => r.body.includes("<checkDeployStatus>") && r.body.includes(deployId)).length;
  const open = (p: Page, id: string) => p.evaluate(`location.hash = '#/tasks/${id}'`);
  const percent = async (p: Page) => Number(await p.getAttribute("#task-progress", "data-percent"));

  it(
    "shows the progress bar moving and the log following a running deploy, then the result",
    async () => {
      stack.org.controls.deployPolls = HOLD;
      const { id, deployId } = await deploy();
      await open(page, id);
      await page.waitForSelector('#task-status[data-status="running"]', { timeout: STEP_MS });
      await page.waitForSelector("#task-progress:visible", { timeout: STEP_MS });
      await page.waitForSelector(`#task-log:has-text("deploy ${deployId} InProgress")`, { timeout: STEP_MS });
      const first = await percent(page);
      const linesBefore = ((await page.textContent("#task-log")) ?? "").split("\n").length;
      expect(await page.textContent('#task-facts dd[data-fact="attempt"]')).toBe("1 of 3");

      // Let the deploy advance: a few more status checks, each a step further, then done.
      stack.org.controls.deployPolls = statusChecks(deployId) + 6;
      await page.waitForFunction(
        `Number(document.querySelector('#task-progress').dataset.percent) > ${first} && document.querySelector('#task-status').dataset.status === 'running'`,
        undefined,
        { timeout: STEP_MS },
      );
      // The log grew on the page without a reload: new lines from the socket.
      await page.waitForFunction(`document.querySelector('#task-log').textContent.split('\\n').length > ${linesBefore}`, undefined, { timeout: STEP_MS });

      await page.waitForSelector('#task-status[data-status="succeeded"]', { timeout: STEP_MS });
      await page.waitForSelector("#task-outcome:visible");
      await page.waitForSelector('#task-result:has-text("\\"status\\": \\"Succeeded\\"")');
      expect(await page.isHidden("#task-progress")).toBe(true);
      expect(await page.isHidden("#task-cancel")).toBe(true);
      expect(await page.textContent("#task-log")).toContain(`deploy ${deployId} Succeeded`);
      // Each log line once, though the page read the log over HTTP and the socket replayed it.
      const log = (await page.textContent("#task-log")) ?? "";
      const lines = log.split("\n").filter(Boolean);
      expect(new Set(lines).size).toBe(lines.length);
      const { body } = await stack.api.request<string>("GET", `/v1/tasks/${id}/logs`);
      expect(log).toBe(body);
    },
    4 * STEP_MS,
  );

  it(
    "cancels a running deploy from the page with the owner token; a viewer's page has no cancel button",
    async () => {
      stack.org.controls.deployPolls = HOLD;
      const { id, deployId } = await deploy();
      await open(page, id);
      await page.waitForSelector('#task-status[data-status="running"]', { timeout: STEP_MS });
      await page.waitForSelector(`#task-log:has-text("deploy ${deployId} InProgress")`, { timeout: STEP_MS });

      const viewer = await stack.api.request<{ token: string }>("POST", `/v1/projects/${stack.project}/tokens`, { body: { name: "watcher", role: "viewer" } });
      const other = await mkdtemp(join(tmpdir(), "sfp-chromium-"));
      const second = await openDashboard(stack.edge.url, stack.project, viewer.body.token, other, 60_000);
      try {
        await open(second.page, id);
        await second.page.waitForSelector('#task-status[data-status="running"]', { timeout: STEP_MS });
        // Caught up over HTTP: the lines written before the page opened, once.
        await second.page.waitForSelector(`#task-log:has-text("deploy ${deployId} InProgress")`, { timeout: STEP_MS });
        expect(await second.page.isHidden("#task-cancel")).toBe(true);
        expect(await page.isVisible("#task-cancel")).toBe(true);

        await page.click("#task-cancel");
        await page.waitForSelector('#task-status[data-status="canceled"]', { timeout: STEP_MS });
        await page.waitForSelector(`#task-log:has-text("canceling deploy ${deployId}")`);
        // The viewer's page follows the cancel live.
        await second.page.waitForSelector('#task-status[data-status="canceled"]', { timeout: STEP_MS });
        const viewerLog = ((await second.page.textContent("#task-log")) ?? "").split("\n").filter(Boolean);
        expect(new Set(viewerLog).size).toBe(viewerLog.length);
        expect(viewerLog).toContain(`canceling deploy ${deployId}`);
      } finally {
        await second.context.close();
        await rm(other, { recursive: true, force: true });
      }
      expect(await page.isHidden("#task-cancel")).toBe(true);
      const events = await stack.api.request<{ events: { type: string; status?: string }[] }>("GET", `/v1/tasks/${id}/events?limit=1000`);
      expect(events.body.events.filter((e) => e.type === "status").map((e) => e.status)).toEqual(["queued", "running", "canceling", "canceled"]);
    },
    4 * STEP_MS,
  );
});
