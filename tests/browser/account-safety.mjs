// Issue 24 in a real browser: Debian's Chromium with CDP virtual authenticators, driving the
// API with fetch + navigator.credentials from a page on the app's origin (/dev/passkeys).
//
// SCENARIO=takeover (item 1): the owner registers with an invitation bound to their address;
// an attacker holding another (unbound) invitation, in another browser profile with its own
// authenticator, starts a registration of the owner's address: the options tell nothing
// (no excluded credentials), and finishing it is refused (409 registration_pending). The owner
// asks for the link again, verifies, and signs in; the attacker's passkey is refused.
//
// SCENARIO=step-up (item 2): a signed-in person whose last assertion is older than the step-up
// window gets 401 reauth_required from the dangerous routes, proves the passkey again through
// reauth/options + reauth/verify, and may then end the other sessions and erase the account.
//
// Environment as discoverable-login.mjs (RAPTOR_URL, BOOTSTRAP_TOKEN, EMAIL, CHROMIUM,
// STEP_TIMEOUT_MS), plus ATTACKER_TOKEN (takeover). Over stdio the script prints
// `NEED_EMAIL_TOKEN <email>` (answer: the token) and `NEED_STALE_SESSION` (answer: any line,
// once the server's clock has moved past the window). The last line is `OK <email>`.

import { chromium } from "playwright-core";
import { createInterface } from "node:readline";

const env = process.env;
const BASE_URL = (env.RAPTOR_URL ?? "http://localhost:8000").replace(/\/$/, "");
const EMAIL = env.EMAIL ?? `browser-${Date.now()}@example.com`;
const CHROMIUM = env.CHROMIUM ?? "/usr/bin/chromium";
const STEP_TIMEOUT_MS = Number(env.STEP_TIMEOUT_MS ?? 20000);
const CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
  "--disable-background-networking", "--disable-component-update", "--disable-sync"];
const AUTHENTICATOR = {
  protocol: "ctap2", transport: "internal", hasResidentKey: true, hasUserVerification: true,
  isUserVerified: true, automaticPresenceSimulation: true,
};

const step = (text) => console.log(`step: ${text}`);
function check(condition, message) {
  if (!condition) throw new Error(message);
}

const stdinLines = createInterface({ input: process.stdin })[Symbol.asyncIterator]();
async function ask(line) {
  console.log(line);
  const { value, done } = await stdinLines.next();
  check(!done, `no answer to ${line} on stdin`);
  return value.trim();
}

/** A browser profile with its own virtual authenticator, on a page of the app's origin. */
async function profile(browser) {
  const context = await browser.newContext();
  context.setDefaultTimeout(STEP_TIMEOUT_MS);
  const page = await context.newPage();
  const cdp = await context.newCDPSession(page);
  await cdp.send("WebAuthn.enable", { enableUI: false });
  const { authenticatorId } = await cdp.send("WebAuthn.addVirtualAuthenticator",
    { options: AUTHENTICATOR });
  await page.goto(`${BASE_URL}/dev/passkeys`);
  await page.waitForSelector("body[data-ready]");
  await page.uncheck("#autofill-enabled");
  return { page, cdp, authenticatorId };
}

/** Runs one API call (and, for a ceremony, the browser's part) in the page. */
function api(page, action, args) {
  return page.evaluate(async ({ action, args }) => {
    const call = async (method, path, body) => {
      const r = await fetch(path, {
        method, headers: body ? { "content-type": "application/json" } : {},
        body: body ? JSON.stringify(body) : undefined,
      });
      const text = await r.text();
      return { status: r.status, body: text ? JSON.parse(text) : null };
    };
    const create = async (options) => (await navigator.credentials.create({
      publicKey: PublicKeyCredential.parseCreationOptionsFromJSON(options.publicKey),
    })).toJSON();
    const get = async (options) => (await navigator.credentials.get({
      publicKey: PublicKeyCredential.parseRequestOptionsFromJSON(options.publicKey),
    })).toJSON();
    switch (action) {
      case "register": {
        const options = await call("POST", "/api/auth/register/options",
          { email: args.email, bootstrap_token: args.token });
        if (options.status !== 200) return { options };
        const credential = await create(options.body);
        const verify = await call("POST", "/api/auth/register/verify",
          { ceremony_id: options.body.ceremony_id, credential });
        return { options, verify };
      }
      case "login": {
        const options = await call("POST", "/api/auth/login/options", args.email ? { email: args.email } : {});
        const credential = await get(options.body);
        return call("POST", "/api/auth/login/verify",
          { ceremony_id: options.body.ceremony_id, credential });
      }
      case "reauth": {
        const options = await call("POST", "/api/auth/reauth/options");
        if (options.status !== 200) return options;
        const credential = await get(options.body);
        return call("POST", "/api/auth/reauth/verify",
          { ceremony_id: options.body.ceremony_id, credential });
      }
      default:
        return call(args.method, args.path, args.body);
    }
  }, { action, args });
}

async function registerAndVerify(owner, token) {
  const reg = await api(owner.page, "register", { email: EMAIL, token });
  check(reg.verify?.status === 201, `the owner registers: ${JSON.stringify(reg)}`);
  const link = await ask(`NEED_EMAIL_TOKEN ${EMAIL}`);
  const verified = await api(owner.page, "call",
    { method: "POST", path: "/api/auth/email/verify", body: { token: link } });
  check(verified.status === 200, `the owner verifies: ${JSON.stringify(verified)}`);
  return reg;
}

async function takeover(browser) {
  const owner = await profile(browser);
  const reg = await api(owner.page, "register", { email: EMAIL, token: env.BOOTSTRAP_TOKEN });
  check(reg.verify?.status === 201, `the owner registers: ${JSON.stringify(reg)}`);
  step("the owner registered; the verification email is on its way");

  const attacker = await profile(browser);
  const attempt = await api(attacker.page, "register", { email: EMAIL, token: env.ATTACKER_TOKEN });
  check(attempt.options.status === 200, `the options answer as for anyone: ${JSON.stringify(attempt.options)}`);
  const excluded = attempt.options.body.publicKey.excludeCredentials ?? [];
  check(excluded.length === 0, `no pending passkey is named: ${JSON.stringify(excluded)}`);
  check(attempt.verify.status === 409 && attempt.verify.body.error.code === "registration_pending",
    `the attacker's registration is refused: ${JSON.stringify(attempt.verify)}`);
  step("the attacker's registration of the owner's address: 409 registration_pending");

  const resent = await api(owner.page, "call",
    { method: "POST", path: "/api/auth/email/resend", body: { email: EMAIL } });
  check(resent.status === 202, `resend: ${JSON.stringify(resent)}`);
  const link = await ask(`NEED_EMAIL_TOKEN ${EMAIL}`);
  const verified = await api(owner.page, "call",
    { method: "POST", path: "/api/auth/email/verify", body: { token: link } });
  check(verified.status === 200, `the owner verifies with the resent link: ${JSON.stringify(verified)}`);

  const signedIn = await api(owner.page, "login", {});
  check(signedIn.status === 200 && signedIn.body.email === EMAIL,
    `the owner signs in: ${JSON.stringify(signedIn)}`);
  check(signedIn.body.user_id === reg.verify.body.user_id, "into the account they registered");
  step("the owner signed in with their own passkey");

  for (const email of [undefined, EMAIL]) {
    const refused = await api(attacker.page, "login", { email });
    check(refused.status === 401 && refused.body.error.code === "login_failed",
      `the attacker's passkey is refused (${email ?? "no email"}): ${JSON.stringify(refused)}`);
  }
  step("the attacker's passkey signs in nowhere");
}

async function stepUp(browser) {
  const me = await profile(browser);
  await registerAndVerify(me, env.BOOTSTRAP_TOKEN);
  const signedIn = await api(me.page, "login", {});
  check(signedIn.status === 200, `signed in: ${JSON.stringify(signedIn)}`);
  const fresh = await api(me.page, "call", { method: "DELETE", path: "/api/auth/sessions" });
  check(fresh.status === 200, `a fresh sign-in may end the other sessions: ${JSON.stringify(fresh)}`);

  await ask("NEED_STALE_SESSION");
  for (const [method, path] of [["POST", "/api/auth/passkeys/options"],
    ["DELETE", "/api/auth/sessions"], ["DELETE", "/api/account"]]) {
    const stale = await api(me.page, "call", { method, path });
    check(stale.status === 401 && stale.body.error.code === "reauth_required",
      `${method} ${path} needs a step-up: ${JSON.stringify(stale)}`);
  }
  step("past the window: reauth_required");

  const reauth = await api(me.page, "reauth", {});
  check(reauth.status === 200 && reauth.body.step_up_expires_at,
    `the passkey proved again: ${JSON.stringify(reauth)}`);
  const ended = await api(me.page, "call", { method: "DELETE", path: "/api/auth/sessions" });
  check(ended.status === 200, `after the step-up: ${JSON.stringify(ended)}`);
  const erased = await api(me.page, "call", { method: "DELETE", path: "/api/account" });
  check(erased.status === 204, `the account is erased: ${JSON.stringify(erased)}`);
  const gone = await api(me.page, "call", { method: "GET", path: "/api/auth/session" });
  check(gone.status === 401, `signed out: ${JSON.stringify(gone)}`);
  step("stepped up: the other sessions ended and the account erased");
}

try {
  check(env.BOOTSTRAP_TOKEN, "BOOTSTRAP_TOKEN is required");
  const browser = await chromium.launch({
    executablePath: CHROMIUM, headless: true, args: CHROMIUM_ARGS, timeout: STEP_TIMEOUT_MS,
  });
  try {
    if (env.SCENARIO === "takeover") {
      check(env.ATTACKER_TOKEN, "ATTACKER_TOKEN is required");
      await takeover(browser);
    } else {
      await stepUp(browser);
    }
  } finally {
    await browser.close();
  }
  console.log(`OK ${EMAIL}`);
  process.exit(0);
} catch (error) {
  console.error(`account-safety: ${error.message}`);
  process.exit(1);
}
