// The development console (/dev/console) driven once end to end in Debian's Chromium with a CDP
// virtual authenticator: register a passkey on /dev/passkeys (a bootstrap token, then the
// emailed token), sign in on the console, see the book, place an order and watch the stream
// report it, cancel it, run a backtest and see its chart; then a screenshot.
//
// tests/api/dev_console.rs runs it against a test instance (simulated broker, the Alpaca data
// stand-in). Environment: RAPTOR_URL (host `localhost`), BOOTSTRAP_TOKEN, EMAIL, CHROMIUM,
// STEP_TIMEOUT_MS (default 20000), SCREENSHOT (a PNG path). Email verification is staged over
// stdio as in discoverable-login.mjs: `NEED_EMAIL_TOKEN <email>`, then the token on stdin.
// Progress lines start with `step:`; the last line is `OK <email>`.

import { chromium } from "playwright-core";
import { createInterface } from "node:readline";

const env = process.env;
const BASE_URL = (env.RAPTOR_URL ?? "http://localhost:8000").replace(/\/$/, "");
const EMAIL = env.EMAIL ?? `console-${Date.now()}@example.com`;
const STEP_TIMEOUT_MS = Number(env.STEP_TIMEOUT_MS ?? 20000);

const step = (text) => console.log(`step: ${text}`);
function check(condition, message) {
  if (!condition) throw new Error(message);
}

async function readLine() {
  const lines = createInterface({ input: process.stdin });
  for await (const line of lines) {
    lines.close();
    return line.trim();
  }
  throw new Error("stdin closed before the email token arrived");
}

/** Runs `action` and waits for the page's status line to settle; fails unless it says ok. */
async function act(page, action, what) {
  const before = Number(await page.getAttribute("#status", "data-seq"));
  await action();
  await page.waitForFunction(
    (seq) => {
      const status = document.getElementById("status");
      return Number(status.dataset.seq) > seq && status.dataset.kind !== "busy";
    },
    before,
    { timeout: STEP_TIMEOUT_MS },
  );
  const kind = await page.getAttribute("#status", "data-kind");
  const text = (await page.textContent("#status")).trim();
  check(kind === "ok", `${what} failed on the page: ${text}`);
  step(`${what}: ${text}`);
  return text;
}

async function run(browser) {
  const context = await browser.newContext({ viewport: { width: 1280, height: 900 } });
  context.setDefaultTimeout(STEP_TIMEOUT_MS);
  const page = await context.newPage();
  const pageErrors = [];
  page.on("pageerror", (error) => pageErrors.push(`exception: ${error.message}`));
  page.on("console", (message) => {
    if (message.type() === "error" && !/status of 401/.test(message.text())) {
      pageErrors.push(`console: ${message.text()}`);
    }
  });
  const cdp = await context.newCDPSession(page);
  await cdp.send("WebAuthn.enable", { enableUI: false });
  await cdp.send("WebAuthn.addVirtualAuthenticator", {
    options: {
      protocol: "ctap2",
      transport: "internal",
      hasResidentKey: true,
      hasUserVerification: true,
      isUserVerified: true,
      automaticPresenceSimulation: true,
    },
  });

  // A passkey account, made on the passkey page.
  await page.goto(`${BASE_URL}/dev/passkeys`);
  await page.waitForSelector("body[data-ready]");
  await page.uncheck("#autofill-enabled");
  await page.fill("#reg-email", EMAIL);
  await page.fill("#reg-token", env.BOOTSTRAP_TOKEN);
  await act(page, () => page.click("#register"), "register");
  console.log(`NEED_EMAIL_TOKEN ${EMAIL}`);
  await page.fill("#verify-token", await readLine());
  await act(page, () => page.click("#verify"), "verify email");

  // The console.
  const response = await page.goto(`${BASE_URL}/dev/console`);
  check(response?.status() === 200, `GET /dev/console answered ${response?.status()}`);
  await page.waitForSelector("body[data-ready]");
  await act(page, () => page.click("#signin"), "sign in");
  check((await page.textContent("#who")).includes(EMAIL), "the console names the account");
  await page.waitForFunction(() => document.getElementById("stream-state").textContent === "open");
  check((await page.textContent("#account")).includes("Cash 100000.00"), "the book shows its cash");
  step(`book: ${await page.textContent("#account")}`);

  await page.fill("#o-limit", "1.00");
  await act(page, () => page.click("#place"), "place order");
  await page.waitForSelector("#orders tr[data-order-id]");
  await page.waitForSelector("#events li");
  step(`stream: ${await page.textContent("#events li")}`);
  await act(page, () => page.click("#orders tr[data-order-id] button.cancel"), "cancel order");
  await page.waitForSelector("#events li[data-event=canceled]");
  check((await page.$$("#orders tr[data-order-id]")).length === 0, "no open order is left");

  await page.fill("#bt-start", "2024-01-01");
  await page.fill("#bt-end", "2024-12-31");
  await act(page, () => page.click("#bt-run"), "backtest");
  await page.waitForSelector("#chart svg");
  step(`metrics: ${await page.textContent("#bt-metrics")}`);

  if (env.SCREENSHOT) {
    await page.screenshot({ path: env.SCREENSHOT, fullPage: true });
    step(`screenshot ${env.SCREENSHOT}`);
  }
  check(pageErrors.length === 0, `the console logged errors:\n${pageErrors.join("\n")}`);
  console.log(`OK ${EMAIL}`);
}

try {
  check(env.BOOTSTRAP_TOKEN, "BOOTSTRAP_TOKEN is required");
  const browser = await chromium.launch({
    executablePath: env.CHROMIUM ?? "/usr/bin/chromium",
    headless: true,
    args: ["--no-sandbox", "--disable-gpu", "--no-first-run", "--disable-background-networking"],
    timeout: STEP_TIMEOUT_MS,
  });
  try {
    await run(browser);
  } finally {
    await browser.close();
  }
  process.exit(0);
} catch (error) {
  console.error(`dev-console: ${error.message}`);
  process.exit(1);
}
