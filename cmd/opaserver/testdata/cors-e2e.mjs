// cors-e2e.mjs opens each page URL given in headless Debian Chromium (playwright-core, resolved
// from the wasm/test package that scripts/test-browser.sh installs, or $OPA_PLAYWRIGHT_DIR), waits
// until the page sets window.corsResult, and prints the results as one JSON array on stdout.
// Run by cmd/opaserver's TestCORSFromAnotherOriginInChromium:
//   node cors-e2e.mjs <page URL>...
import { createRequire } from "node:module";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

const here = dirname(fileURLToPath(import.meta.url));
const pkg = process.env.OPA_PLAYWRIGHT_DIR || join(here, "..", "..", "..", "wasm", "test");
const { chromium } = createRequire(join(pkg, "package.json"))("playwright-core");

const profile = mkdtempSync(join(tmpdir(), "opa-cors-chromium-"));
const browser = await chromium.launchPersistentContext(profile, {
  executablePath: process.env.CHROMIUM || "/usr/bin/chromium",
  headless: true,
  args: [
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
  ],
});
const results = [];
try {
  for (const url of process.argv.slice(2)) {
    const page = await browser.newPage();
    const errors = [];
    page.on("pageerror", (e) => errors.push("pageerror: " + e.message));
    page.setDefaultTimeout(60_000);
    await page.goto(url);
    await page.waitForFunction(() => window.corsResult !== undefined);
    const result = await page.evaluate(() => window.corsResult);
    result.pageErrors = errors;
    results.push(result);
    await page.close();
  }
} finally {
  await browser.close();
  rmSync(profile, { recursive: true, force: true });
}
process.stdout.write(JSON.stringify(results) + "\n");
