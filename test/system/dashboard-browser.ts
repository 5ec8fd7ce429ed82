// The dashboard in headless Chromium (Debian's, driven by playwright-core), signed in to a project,
// for the system tests that watch it. Without /usr/bin/chromium a test file skips loudly, unless
// SFP_REQUIRE_TOOLS=1 (CI) makes that a failure.
import { existsSync } from "node:fs";
import { chromium, type BrowserContext, type Page } from "playwright-core";

export const CHROMIUM = "/usr/bin/chromium";

/** Whether Chromium is here; when it is not, says so loudly (or throws under SFP_REQUIRE_TOOLS=1). */
export function chromiumAvailable(what: string): boolean {
  if (existsSync(CHROMIUM)) return true;
  if (process.env.SFP_REQUIRE_TOOLS === "1") throw new Error(`${CHROMIUM} is required (SFP_REQUIRE_TOOLS=1): apt-get install -y chromium`);
  console.warn(`\n*** SKIPPING ${what}: ${CHROMIUM} is missing (apt-get install -y chromium) ***\n`);
  return false;
}

/** Opens the dashboard served by `edgeUrl` in a fresh profile and signs in; resolves once its feed is live. */
export async function openDashboard(
  edgeUrl: string,
  project: string,
  token: string,
  profileDir: string,
  timeoutMs = 30_000,
): Promise<{ context: BrowserContext; page: Page }> {
  const context = await chromium.launchPersistentContext(profileDir, {
    executablePath: CHROMIUM,
    headless: true,
    // As root and offline: no sandbox, and nothing in the background that would try the network.
    args: [
      "--headless",
      "--no-sandbox",
      "--disable-gpu",
      "--disable-quic",
      "--no-first-run",
      "--disable-background-networking",
      "--disable-component-update",
      "--disable-sync",
    ],
  });
  const page = context.pages()[0] ?? (await context.newPage());
  await page.goto(edgeUrl);
  await page.fill('input[name="project"]', project);
  await page.fill('input[name="token"]', token);
  await page.click('button[type="submit"]');
  await page.waitForSelector("#feed-state.live", { timeout: timeoutMs });
  return { context, page };
}
