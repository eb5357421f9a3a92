// pages.mjs opens each page URL given, in order, in one headless Debian Chromium profile
// (playwright-core), waits until the page sets window.pageResult, and prints one JSON array on
// stdout: per page {result, pageErrors, bodies} (bodies: every request body the page sent). The
// profile is shared, so a later page sees what an earlier one kept in IndexedDB.
//   node pages.mjs <page URL>...
import { chromium } from "playwright-core";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";

const profile = mkdtempSync(join(tmpdir(), "opa-pages-chromium-"));
const browser = await chromium.launchPersistentContext(profile, {
  executablePath: process.env.CHROMIUM || "/usr/bin/chromium",
  headless: true,
  args: [
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
  ],
});
const out = [];
try {
  for (const url of process.argv.slice(2)) {
    const page = await browser.newPage();
    const pageErrors = [];
    const bodies = [];
    page.on("pageerror", (e) => pageErrors.push("pageerror: " + e.message));
    page.on("console", (m) => {
      if (m.type() === "error" && !m.text().startsWith("Failed to load resource")) pageErrors.push("console: " + m.text());
    });
    page.on("response", (r) => {
      if (r.status() >= 400 && !r.url().endsWith("/favicon.ico")) pageErrors.push(`HTTP ${r.status()} ${r.url()}`);
    });
    page.on("request", (r) => { const b = r.postData(); if (b) bodies.push(b); });
    page.setDefaultTimeout(120_000);
    await page.goto(url);
    await page.waitForFunction(() => window.pageResult !== undefined);
    out.push({ result: await page.evaluate(() => window.pageResult), pageErrors, bodies });
    await page.close();
  }
} finally {
  await browser.close();
  rmSync(profile, { recursive: true, force: true });
}
process.stdout.write(JSON.stringify(out) + "\n");
