// Lost-passkey recovery in a real browser (issue 12): Debian's Chromium with a CDP virtual
// authenticator registers a passkey on /dev/passkeys and verifies the email; the authenticator
// is then removed (the device is lost), a new one is added, and the recovery routes are driven
// from the page (fetch + navigator.credentials.create); finally "Sign in with a passkey" signs in
// with the recovered passkey.
//
// Run by tests/api/recovery.rs. Environment as discoverable-login.mjs (RAPTOR_URL,
// BOOTSTRAP_TOKEN, EMAIL, CHROMIUM, STEP_TIMEOUT_MS). Tokens are staged over stdio: the script
// prints `NEED_EMAIL_TOKEN <email>` or `NEED_RECOVERY_TOKEN <email>` and reads the token from
// the next line of stdin. The last line is `OK <email>`.

import { chromium } from "playwright-core";
import { createInterface } from "node:readline";

const env = process.env;
const BASE_URL = (env.RAPTOR_URL ?? "http://localhost:8000").replace(/\/$/, "");
const EMAIL = env.EMAIL ?? `browser-${Date.now()}@example.com`;
const CHROMIUM = env.CHROMIUM ?? "/usr/bin/chromium";
const STEP_TIMEOUT_MS = Number(env.STEP_TIMEOUT_MS ?? 20000);
const CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
  "--disable-background-networking", "--disable-component-update", "--disable-sync"];

const step = (text) => console.log(`step: ${text}`);
function check(condition, message) {
  if (!condition) throw new Error(message);
}

const stdinLines = createInterface({ input: process.stdin })[Symbol.asyncIterator]();
async function ask(kind) {
  console.log(`${kind} ${EMAIL}`);
  const { value, done } = await stdinLines.next();
  check(!done && value.trim(), `no ${kind} answer on stdin`);
  return value.trim();
}

async function act(page, selector, what) {
  const status = page.locator("#status");
  const before = Number(await status.getAttribute("data-seq"));
  await page.click(selector);
  await page.waitForFunction(
    (seq) => Number(document.getElementById("status").dataset.seq) > seq, before,
    { timeout: STEP_TIMEOUT_MS });
  const text = (await status.textContent()).trim();
  check((await status.getAttribute("data-kind")) === "ok", `${what} failed on the page: ${text}`);
  step(`${what}: ${text}`);
  return text;
}

const AUTHENTICATOR = {
  protocol: "ctap2", transport: "internal", hasResidentKey: true, hasUserVerification: true,
  isUserVerified: true, automaticPresenceSimulation: true,
};

async function run(browser) {
  const context = await browser.newContext();
  context.setDefaultTimeout(STEP_TIMEOUT_MS);
  const page = await context.newPage();
  const cdp = await context.newCDPSession(page);
  await cdp.send("WebAuthn.enable", { enableUI: false });
  const lost = (await cdp.send("WebAuthn.addVirtualAuthenticator", { options: AUTHENTICATOR }))
    .authenticatorId;

  await page.goto(`${BASE_URL}/dev/passkeys`);
  await page.waitForSelector("body[data-ready]");
  await page.uncheck("#autofill-enabled");
  await page.fill("#reg-email", EMAIL);
  await page.fill("#reg-token", env.BOOTSTRAP_TOKEN);
  await act(page, "#register", "register");
  await page.fill("#verify-token", await ask("NEED_EMAIL_TOKEN"));
  await act(page, "#verify", "verify email");

  // The device is lost.
  await cdp.send("WebAuthn.removeVirtualAuthenticator", { authenticatorId: lost });
  const fresh = (await cdp.send("WebAuthn.addVirtualAuthenticator", { options: AUTHENTICATOR }))
    .authenticatorId;
  step("the original authenticator is gone; a new, empty one is attached");

  const started = await page.evaluate(async (email) => {
    const r = await fetch("/api/auth/recovery/start", {
      method: "POST", headers: { "content-type": "application/json" },
      body: JSON.stringify({ email }),
    });
    return r.status;
  }, EMAIL);
  check(started === 202, `recovery/start answered ${started}`);
  const token = await ask("NEED_RECOVERY_TOKEN");

  const recovered = await page.evaluate(async (token) => {
    const post = (path, body) => fetch(path, {
      method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify(body),
    });
    const options = await (await post("/api/auth/recovery/options", { token })).json();
    const publicKey = PublicKeyCredential.parseCreationOptionsFromJSON(options.publicKey);
    const credential = await navigator.credentials.create({ publicKey });
    const r = await post("/api/auth/recovery/verify",
      { ceremony_id: options.ceremony_id, credential: credential.toJSON() });
    return { status: r.status, body: await r.json() };
  }, token);
  check(recovered.status === 200, `recovery/verify answered ${JSON.stringify(recovered)}`);
  check(recovered.body.passkeys === 2, `two passkeys after recovery: ${JSON.stringify(recovered)}`);
  const { credentials } = await cdp.send("WebAuthn.getCredentials", { authenticatorId: fresh });
  check(credentials.length === 1 && credentials[0].isResidentCredential,
    "the new authenticator holds the recovered, resident passkey");
  step("recovered: the new authenticator holds the new passkey");

  await act(page, "#signout", "sign out");
  const signedIn = await act(page, "#signin-passkey", "sign in with the recovered passkey");
  check(/no email/.test(signedIn), `signed in by the button: ${signedIn}`);
  const session = JSON.parse(await page.textContent("#session"));
  check(session.email === EMAIL, `the session is ${EMAIL}'s, got ${JSON.stringify(session)}`);
  console.log(`OK ${EMAIL}`);
}

try {
  check(env.BOOTSTRAP_TOKEN, "BOOTSTRAP_TOKEN is required");
  const browser = await chromium.launch({
    executablePath: CHROMIUM, headless: true, args: CHROMIUM_ARGS, timeout: STEP_TIMEOUT_MS,
  });
  try {
    await run(browser);
  } finally {
    await browser.close();
  }
  process.exit(0);
} catch (error) {
  console.error(`recovery: ${error.message}`);
  process.exit(1);
}
