// e2e.mjs drives the reveal demo page in headless Debian Chromium with playwright-core:
//   node e2e.mjs <page URL>   (env OPA_TEAM, OPA_KEY_ID, OPA_KEY_SECRET)
// It signs in, reveals with an EC P-256 key kept in IndexedDB, an RSA-2048 key, and the kept
// P-256 key again, and prints {"passwords", "errors", "bodies", "urls", "statuses"} on stdout. Run by webui's
// TestRevealInChromium. With OPA_E2E_LOAD_ERROR=1 it only waits for the page's status to turn into
// an error (the helper could not load) and reports it as {"status": ...}.
import { chromium } from "playwright-core";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";

const url = process.argv[2];
const profile = mkdtempSync(join(tmpdir(), "opa-chromium-"));
const errors = [];
const passwords = [];
const bodies = []; // every request body the page sent, for the caller to check for private keys
const statuses = []; // the status line after each reveal
let result = null; // set in OPA_E2E_LOAD_ERROR mode
const urls = []; // every URL the page requested (a native form submission would show up here)
const browser = await chromium.launchPersistentContext(profile, {
  executablePath: process.env.CHROMIUM || "/usr/bin/chromium",
  headless: true,
  args: [
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
  ],
});
try {
  const page = browser.pages()[0] ?? (await browser.newPage());
  page.on("pageerror", (e) => errors.push("pageerror: " + e.message));
  page.on("console", (m) => {
    if (m.type() === "error" && !m.text().startsWith("Failed to load resource")) errors.push("console: " + m.text());
  });
  page.on("request", (r) => { urls.push(r.url()); const b = r.postData(); if (b) bodies.push(b); });
  page.on("response", (r) => { if (r.status() >= 400) errors.push(`HTTP ${r.status()} ${r.url()}`); });
  page.setDefaultTimeout(60_000);
  await page.goto(url);
  if (process.env.OPA_E2E_LOAD_ERROR) {
    await page.waitForSelector("#status.error");
    result = { status: await page.textContent("#status"), reveal_disabled: await page.isDisabled("#reveal") };
  } else {
    await page.waitForFunction(() => document.getElementById("status").textContent.startsWith("Ready"));
    await page.fill("#team", process.env.OPA_TEAM);
    await page.fill("#key-id", process.env.OPA_KEY_ID);
    await page.fill("#key-secret", process.env.OPA_KEY_SECRET);
    await page.press("#key-secret", "Enter"); // Enter signs in (and must never submit a form)
    await page.waitForSelector("#uams option", { state: "attached" });
    // P-256 with a key kept in IndexedDB, RSA-2048 with a fresh key, then P-256 again: the kept
    // key is reused (the status says so, and the caller sees the same kid twice).
    for (const [kind, keep] of [["P-256", true], ["RSA-2048", false], ["P-256", true]]) {
      await page.selectOption("#kind", kind);
      await page.setChecked("#keep-key", keep);
      await page.click("#clear");
      await page.click("#reveal");
      await page.waitForFunction(() => document.getElementById("password").textContent !== "" ||
        document.getElementById("status").className === "error");
      const status = await page.textContent("#status");
      if (await page.getAttribute("#status", "class") === "error") errors.push(`${kind}: ${status}`);
      passwords.push(await page.textContent("#password"));
      statuses.push(status);
    }
  }
} finally {
  await browser.close();
  rmSync(profile, { recursive: true, force: true });
}
process.stdout.write(JSON.stringify(result ?? { passwords, errors, bodies, urls, statuses }) + "\n");
