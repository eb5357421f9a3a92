// e2e.mjs drives the reveal demo page in headless Debian Chromium with playwright-core:
//   node e2e.mjs <page URL>   (env OPA_TEAM, OPA_KEY_ID, OPA_KEY_SECRET)
// It signs in, reveals with an EC P-256 key and then an RSA-2048 key, and prints
// {"passwords": [...], "errors": [...], "bodies": [...]} on stdout. Run by webui's TestRevealInChromium.
import { chromium } from "playwright-core";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";

const url = process.argv[2];
const profile = mkdtempSync(join(tmpdir(), "opa-chromium-"));
const errors = [];
const passwords = [];
const bodies = []; // every request body the page sent, for the caller to check for private keys
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
  page.on("request", (r) => { const b = r.postData(); if (b) bodies.push(b); });
  page.on("response", (r) => { if (r.status() >= 400) errors.push(`HTTP ${r.status()} ${r.url()}`); });
  page.setDefaultTimeout(60_000);
  await page.goto(url);
  await page.fill("#team", process.env.OPA_TEAM);
  await page.fill("#key-id", process.env.OPA_KEY_ID);
  await page.fill("#key-secret", process.env.OPA_KEY_SECRET);
  await page.click("#sign-in");
  await page.waitForSelector("#uams option", { state: "attached" });
  for (const kind of ["P-256", "RSA-2048"]) {
    await page.selectOption("#kind", kind);
    await page.click("#clear");
    await page.click("#reveal");
    await page.waitForFunction(() => document.getElementById("password").textContent !== "" ||
      document.getElementById("status").className === "error");
    const status = await page.textContent("#status");
    if (await page.getAttribute("#status", "class") === "error") errors.push(`${kind}: ${status}`);
    passwords.push(await page.textContent("#password"));
  }
} finally {
  await browser.close();
  rmSync(profile, { recursive: true, force: true });
}
process.stdout.write(JSON.stringify({ passwords, errors, bodies }) + "\n");
