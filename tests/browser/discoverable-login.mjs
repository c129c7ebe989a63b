// Discoverable (usernameless) passkey login, for real: Debian's Chromium drives the development
// page at /dev/passkeys with a CDP virtual authenticator (CTAP2, internal transport, resident
// keys, user verification). It registers a passkey with a bootstrap token, verifies the email,
// then signs in with "Sign in with a passkey" without typing an email, and checks that the
// session names the right account and that the authenticator holds a resident credential.
//
// tests/api/browser.rs runs it against a test instance; a developer can run it against
// `raptor dev` (FLAG_WEBAUTHN_REGISTRATION=true, the same SECRET_KEY as the CLI):
//
//   BOOTSTRAP_TOKEN=$(raptor bootstrap-token create --email you@example.com | tail -1) EMAIL=you@example.com node discoverable-login.mjs
//
// Environment: RAPTOR_URL (default http://localhost:8000; the host must be `localhost`, since
// the WebAuthn RP id must be a domain), BOOTSTRAP_TOKEN (required), EMAIL (default: a fresh
// address), CHROMIUM (default /usr/bin/chromium), STEP_TIMEOUT_MS (default 20000), SCREENSHOT
// (a PNG path, taken once signed in).
//
// Email verification is staged over stdio: after registering, the script prints the line
// `NEED_EMAIL_TOKEN <email>` and reads the token from the next line of stdin (the test reads
// it from its SMTP server; a developer pastes it from the `raptor dev` log). Progress lines
// start with `step:`; the last line is `OK <email>`. Any failure exits 1 with the reason on
// stderr.

import { chromium } from "playwright-core";
import { createInterface } from "node:readline";

const env = process.env;
const BASE_URL = (env.RAPTOR_URL ?? "http://localhost:8000").replace(/\/$/, "");
const EMAIL = env.EMAIL ?? `browser-${Date.now()}@example.com`;
const CHROMIUM = env.CHROMIUM ?? "/usr/bin/chromium";
const STEP_TIMEOUT_MS = Number(env.STEP_TIMEOUT_MS ?? 20000);
const CHROMIUM_ARGS = [
  "--no-sandbox",
  "--disable-gpu",
  "--disable-quic",
  "--no-first-run",
  "--disable-background-networking",
  "--disable-component-update",
  "--disable-sync",
];

const step = (text) => console.log(`step: ${text}`);

function fail(message) {
  throw new Error(message);
}

function check(condition, message) {
  if (!condition) fail(message);
}

const stdinLines = createInterface({ input: process.stdin })[Symbol.asyncIterator]();

/** The next line of stdin, or a failure once `ms` have passed. */
async function readLine(ms) {
  let timer;
  const timeout = new Promise((_, reject) => {
    timer = setTimeout(() => reject(new Error(`no line on stdin within ${ms} ms`)), ms);
  });
  try {
    const { value, done } = await Promise.race([stdinLines.next(), timeout]);
    check(!done, "stdin closed before the email token arrived");
    return value.trim();
  } finally {
    clearTimeout(timer);
  }
}

/** Does `action` (a selector to click, or a function) and waits for the page to finish what it
 * started; returns the page's status text, failing unless it reports success. */
async function act(page, action, what) {
  const status = page.locator("#status");
  const before = Number(await status.getAttribute("data-seq"));
  await (typeof action === "function" ? action() : page.click(action));
  await page.waitForFunction(
    (seq) => Number(document.getElementById("status").dataset.seq) > seq,
    before,
    { timeout: STEP_TIMEOUT_MS },
  );
  const kind = await status.getAttribute("data-kind");
  const text = (await status.textContent()).trim();
  check(kind === "ok", `${what} failed on the page: ${text}`);
  step(`${what}: ${text}`);
  return text;
}

async function main() {
  check(env.BOOTSTRAP_TOKEN, "BOOTSTRAP_TOKEN is required (raptor bootstrap-token create)");
  check(new URL(BASE_URL).hostname === "localhost", "RAPTOR_URL must use the host localhost");

  const browser = await chromium.launch({
    executablePath: CHROMIUM,
    headless: true,
    args: CHROMIUM_ARGS,
    timeout: STEP_TIMEOUT_MS,
  });
  try {
    await run(browser);
  } finally {
    await browser.close();
  }
}

async function run(browser) {
  const context = await browser.newContext();
  context.setDefaultTimeout(STEP_TIMEOUT_MS);
  const page = await context.newPage();

  // Anything the page logs as an error (a CSP refusal of its inline script, an exception)
  // fails the run.
  const pageErrors = [];
  page.on("pageerror", (error) => pageErrors.push(`exception: ${error.message}`));
  page.on("console", (message) => {
    if (message.type() === "error" && !/status of 401/.test(message.text())) {
      pageErrors.push(`console: ${message.text()}`);
    }
  });
  // Every login/options body, to show no email was ever sent.
  const loginOptionBodies = [];
  page.on("request", (request) => {
    if (request.url().endsWith("/api/auth/login/options")) {
      loginOptionBodies.push(request.postDataJSON());
    }
  });

  const cdp = await context.newCDPSession(page);
  await cdp.send("WebAuthn.enable", { enableUI: false });
  const { authenticatorId } = await cdp.send("WebAuthn.addVirtualAuthenticator", {
    options: {
      protocol: "ctap2",
      transport: "internal",
      hasResidentKey: true,
      hasUserVerification: true,
      isUserVerified: true,
      automaticPresenceSimulation: true,
    },
  });
  step(`virtual authenticator ${authenticatorId}`);

  const url = `${BASE_URL}/dev/passkeys`;
  const response = await page.goto(url);
  check(response && response.status() === 200, `GET ${url} answered ${response?.status()}`);
  const csp = response.headers()["content-security-policy"] ?? "";
  check(/script-src 'sha256-/.test(csp), `the page's CSP allows its script by hash: ${csp}`);
  await page.waitForSelector("body[data-ready]");
  check(pageErrors.length === 0, `the page loaded with errors:\n${pageErrors.join("\n")}`);
  step("dev page loaded, its inline script ran under its CSP");

  // Chromium's virtual environment answers a conditional (autofill) request at once whenever a
  // matching credential exists, which would sign in before the button is ever pressed: turn
  // autofill off until the button has been proved, and prove autofill separately at the end.
  await page.uncheck("#autofill-enabled");

  // Register.
  await page.fill("#reg-email", EMAIL);
  await page.fill("#reg-token", env.BOOTSTRAP_TOKEN);
  await act(page, "#register", "register");

  const { credentials } = await cdp.send("WebAuthn.getCredentials", { authenticatorId });
  check(credentials.length === 1, `one credential on the authenticator, got ${credentials.length}`);
  const [credential] = credentials;
  check(credential.isResidentCredential === true, "the credential is resident (discoverable)");
  check(credential.rpId === "localhost", `the credential's RP id is localhost, got ${credential.rpId}`);
  step("the authenticator holds one resident credential for localhost");

  // Verify the email with a token from the caller.
  console.log(`NEED_EMAIL_TOKEN ${EMAIL}`);
  const token = await readLine(STEP_TIMEOUT_MS * 3);
  check(token, "an empty email token");
  await page.fill("#verify-token", token);
  await act(page, "#verify", "verify email");

  // Usernameless sign-in: nothing typed, the button asks for any passkey of this site.
  check((await page.inputValue("#signin-username")) === "", "the username field is empty");
  const usedBefore = credential.signCount;
  const signedIn = await act(page, "#signin-passkey", "sign in with a passkey");
  check(/no email/.test(signedIn), `signed in by the button, not another path: ${signedIn}`);

  const session = JSON.parse(await page.textContent("#session"));
  check(session.email === EMAIL, `the session is ${EMAIL}'s, got ${JSON.stringify(session)}`);
  check((await page.textContent("#who")).includes(EMAIL), "the page names the signed-in account");
  check(loginOptionBodies.length > 0, "login/options was called");
  check(
    loginOptionBodies.every((body) => body && Object.keys(body).length === 0),
    `no login/options call carried an email: ${JSON.stringify(loginOptionBodies)}`,
  );
  const cookie = (await context.cookies(BASE_URL)).find((c) => c.name === "session");
  check(cookie && cookie.httpOnly && cookie.secure && cookie.sameSite === "None",
    `an HttpOnly, Secure, SameSite=None session cookie, got ${JSON.stringify(cookie && { ...cookie, value: "…" })}`);
  const after = (await cdp.send("WebAuthn.getCredentials", { authenticatorId })).credentials;
  check(after.length === 1 && after[0].signCount > usedBefore, "the passkey signed the assertion");
  step(`session: ${session.email} until ${session.expires_at}`);

  if (env.SCREENSHOT) {
    await page.screenshot({ path: env.SCREENSHOT, fullPage: true });
    step(`screenshot ${env.SCREENSHOT}`);
  }

  // Sign out: the server forgets the session and the page says so.
  await act(page, "#signout", "sign out");
  check((await page.textContent("#who")).includes("Not signed in"), "signed out on the page");
  const replay = await page.request.get(`${BASE_URL}/api/auth/session`, {
    headers: { cookie: `session=${cookie.value}` },
  });
  check(replay.status() === 401, `the old session cookie is refused, got ${replay.status()}`);

  // Autofill: the pending conditional request, answered by the virtual authenticator.
  const viaAutofill = await act(page, () => page.check("#autofill-enabled"), "sign in via autofill");
  check(/autofill/.test(viaAutofill), `signed in by the conditional request: ${viaAutofill}`);
  const again = JSON.parse(await page.textContent("#session"));
  check(again.email === EMAIL, `the autofill session is ${EMAIL}'s, got ${JSON.stringify(again)}`);
  check(
    loginOptionBodies.every((body) => body && Object.keys(body).length === 0),
    `no login/options call carried an email: ${JSON.stringify(loginOptionBodies)}`,
  );
  check(pageErrors.length === 0, `the page logged errors:\n${pageErrors.join("\n")}`);

  console.log(`OK ${EMAIL}`);
}

try {
  await main();
  process.exit(0);
} catch (error) {
  console.error(`discoverable-login: ${error.message}`);
  process.exit(1);
}
