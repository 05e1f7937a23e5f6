// Runs axe-core (WCAG 2.0/2.1 A and AA rules) on local HTML files in Debian's headless Chromium.
// Usage: node axe_runner.mjs NODE_MODULES_DIR FILE.html...   Prints one JSON report on stdout.
import { createRequire } from "node:module";
import { pathToFileURL } from "node:url";
import { join, resolve } from "node:path";

const [modules, ...files] = process.argv.slice(2);
const require = createRequire(join(resolve(modules), "noop.js"));
const { chromium } = require("playwright-core");
const axeSource = require("fs").readFileSync(require.resolve("axe-core/axe.min.js"), "utf8");

const browser = await chromium.launch({
  executablePath: process.env.CHROMIUM || "/usr/bin/chromium",
  args: [
    // playwright-core adds --headless and its own fresh profile (--user-data-dir).
    "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
  ],
});
const report = {};
try {
  const page = await browser.newPage();
  // Only file:// pages; anything from the network is refused (no network at test time).
  await page.route(/^https?:/, (route) => route.abort());
  for (const file of files) {
    await page.goto(pathToFileURL(file).href);
    await page.addScriptTag({ content: axeSource });
    const result = await page.evaluate(async () =>
      // eslint-disable-next-line no-undef
      await axe.run(document, { runOnly: { type: "tag", values: ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa", "best-practice"] } }),
    );
    report[file] = result.violations.map((v) => ({
      id: v.id, impact: v.impact, help: v.help, nodes: v.nodes.map((n) => n.target.join(" ")),
    }));
  }
} finally {
  await browser.close();
}
process.stdout.write(JSON.stringify(report));
