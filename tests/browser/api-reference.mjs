// The development API reference page (/dev/api/, Swagger UI shipped in the binary) in a real
// browser: Debian's Chromium loads it under the page's own content security policy and checks
// that it renders every operation of /api/openapi.json and that the policy refused nothing.
//
// Run by tests/api/openapi.rs. Environment: RAPTOR_URL (default http://localhost:8000),
// CHROMIUM (default /usr/bin/chromium), STEP_TIMEOUT_MS (default 20000), SCREENSHOT (a PNG
// path). The last line is `OK <operations rendered>`; any failure exits 1 with the reason.

import { chromium } from "playwright-core";

const env = process.env;
const BASE_URL = (env.RAPTOR_URL ?? "http://localhost:8000").replace(/\/$/, "");
const CHROMIUM = env.CHROMIUM ?? "/usr/bin/chromium";
const STEP_TIMEOUT_MS = Number(env.STEP_TIMEOUT_MS ?? 20000);
const CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
  "--disable-background-networking", "--disable-component-update", "--disable-sync"];

function check(condition, message) {
  if (!condition) throw new Error(message);
}

const browser = await chromium.launch({ executablePath: CHROMIUM, args: CHROMIUM_ARGS });
try {
  const page = await browser.newPage();
  page.setDefaultTimeout(STEP_TIMEOUT_MS);
  const refused = [];
  page.on("console", (message) => {
    if (/Content Security Policy/i.test(message.text())) refused.push(message.text());
  });
  await page.addInitScript(() => {
    window.__refused = [];
    document.addEventListener("securitypolicyviolation", (e) =>
      window.__refused.push(`${e.violatedDirective} ${e.blockedURI}`));
  });

  const documented = await (await fetch(`${BASE_URL}/api/openapi.json`)).json();
  const operations = Object.values(documented.paths)
    .reduce((n, item) => n + Object.keys(item).length, 0);

  await page.goto(`${BASE_URL}/dev/api/`);
  await page.waitForFunction(
    (expected) => document.querySelectorAll(".opblock").length >= expected, operations);
  const rendered = await page.locator(".opblock").count();
  const title = await page.locator(".info .title").innerText();
  check(title.includes("Raptor API"), `the page shows "${title}", not the document's title`);
  // Open an operation with a body: its schema and example render too.
  await page.locator("#operations-trading-submit_order .opblock-summary").click();
  await page.locator("#operations-trading-submit_order .opblock-body").waitFor();
  await page.locator("#operations-trading-submit_order .tab", { hasText: "Schema" }).first().click();
  // Try one call from the page: it reaches the API under the policy's connect-src.
  const health = page.locator("#operations-system-system_health");
  await health.locator(".opblock-summary").click();
  await health.locator(".execute").click();
  await health.locator(".live-responses-table .response-col_status", { hasText: "200" }).waitFor();
  if (env.SCREENSHOT) await page.screenshot({ path: env.SCREENSHOT, fullPage: false });

  const violations = refused.concat(await page.evaluate(() => window.__refused));
  check(violations.length === 0, `the policy refused: ${violations.join("; ")}`);
  console.log(`OK ${rendered}`);
} finally {
  await browser.close();
}
