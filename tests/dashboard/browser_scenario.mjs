// Drives the dashboard in Debian's headless Chromium: log in, triage an alert into an incident,
// open the breach clocks, approve (four eyes) an action another user requested. Usage: node browser_scenario.mjs NODE_MODULES BASE_URL OUT_DIR
// Prints one JSON object with what it saw; screenshots go to OUT_DIR.
import { createRequire } from "node:module";
import { join, resolve } from "node:path";

const [modules, base, out] = process.argv.slice(2);
const require = createRequire(join(resolve(modules), "noop.js"));
const { chromium } = require("playwright-core");
const PASSWORD = process.env.SCENARIO_PASSWORD;

const browser = await chromium.launch({
  executablePath: process.env.CHROMIUM || "/usr/bin/chromium",
  args: [
    "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
  ],
});
const seen = {};
async function login(context, username) {
  const page = await context.newPage();
  await page.goto(base + "/login");
  await page.fill("input[name=username]", username);
  await page.fill("input[name=password]", PASSWORD);
  await Promise.all([page.waitForNavigation(), page.click("form[action='/login'] button[type=submit]")]);
  return page;
}
try {
  const analyst = await browser.newContext();
  const page = await login(analyst, "analist");
  seen.who = (await page.textContent("[data-testid=who]")).trim();
  await page.goto(base + "/alerts");
  await page.screenshot({ path: join(out, "01-alert-queue.png"), fullPage: true });
  await Promise.all([page.waitForNavigation(), page.click("[data-testid=alert-table] a")]);
  await page.screenshot({ path: join(out, "02-alert-detail.png"), fullPage: true });
  await Promise.all([page.waitForNavigation(), page.click("[data-testid=triage]")]);
  seen.incident_url = page.url();
  await page.screenshot({ path: join(out, "03-incident.png"), fullPage: true });
  seen.incident_title = (await page.textContent("[data-testid=incident-title]")).trim();

  const manager = await browser.newContext();
  const clocks = await login(manager, "manager");
  await clocks.goto(base + "/dpo/clocks");
  seen.overdue = (await clocks.textContent("[data-testid=overdue-banner]")).trim();
  seen.clock_rows = await clocks.locator("[data-testid=clock-table] tbody tr").count();
  await clocks.screenshot({ path: join(out, "04-breach-clocks.png"), fullPage: true });

  // Four eyes: the analyst requested the exercise incident's action; the manager approves it.
  await clocks.goto(base + "/incidents");
  const row = clocks.locator("[data-testid=incident-table] tr", { hasText: "OEFENING: account overgenomen" });
  await Promise.all([clocks.waitForNavigation(), row.locator("a").first().click()]);
  seen.approval_banner = (await clocks.textContent(".exercise-banner")).trim();
  await clocks.screenshot({ path: join(out, "05-approval-requested.png"), fullPage: true });
  await Promise.all([clocks.waitForNavigation(), clocks.click("[data-testid=approve-disable-account]")]);
  seen.approval_after = (await clocks.textContent("[data-testid=run-steps]")).replace(/\s+/g, " ");
  await clocks.screenshot({ path: join(out, "06-action-approved.png"), fullPage: true });
} finally {
  await browser.close();
}
process.stdout.write(JSON.stringify(seen));
