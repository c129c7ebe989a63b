// The example run end to end against a live raptor, as the SPA would call it, with Chromium's
// virtual authenticator for the passkey: register with an invitation, verify the email, sign in
// (usernameless), read the session and the book, open the order stream, place, list and cancel
// an order and see its events, read latest quotes and daily bars, run a backtest and read its
// metrics. tests/api/ts_client.rs runs it (docs/clients.md); by hand against `raptor dev`:
//
//   npm run generate && npx tsc --noEmit false --outDir dist && \
//   BOOTSTRAP_TOKEN=… EMAIL=you@example.com node dist/main.js
//
// Environment: RAPTOR_URL (default http://localhost:8000; the host must be `localhost`),
// BOOTSTRAP_TOKEN (required), EMAIL, CHROMIUM (default /usr/bin/chromium), STEP_TIMEOUT_MS.
// After registering it prints `NEED_EMAIL_TOKEN <email>` and reads the token from stdin.
// Progress lines start with `step:`; the last line is `OK <email>`.

import { createInterface } from "node:readline";
import { chromium, type Page } from "playwright-core";

import { nodeSession, raptorClient, type Schemas } from "./client.js";
import * as flows from "./flows.js";
import type { OrderStreamEvent } from "./sse.js";

const env = process.env;
const BASE_URL = (env.RAPTOR_URL ?? "http://localhost:8000").replace(/\/$/, "");
const EMAIL = env.EMAIL ?? `client-${Date.now()}@example.com`;
const STEP_TIMEOUT_MS = Number(env.STEP_TIMEOUT_MS ?? 20000);

const step = (text: string): void => console.log(`step: ${text}`);

function check(condition: unknown, message: string): asserts condition {
  if (!condition) throw new Error(message);
}

/** The browser's half of a ceremony, in a page of Raptor's origin (the WebAuthn origin). */
function browserAuthenticator(page: Page): flows.Authenticator {
  return {
    create: (options) =>
      page.evaluate(async (json) => {
        const publicKey = PublicKeyCredential.parseCreationOptionsFromJSON(json as never);
        const credential = (await navigator.credentials.create({ publicKey })) as PublicKeyCredential;
        return credential.toJSON() as never;
      }, options),
    get: (options) =>
      page.evaluate(async (json) => {
        const publicKey = PublicKeyCredential.parseRequestOptionsFromJSON(json as never);
        const credential = (await navigator.credentials.get({ publicKey })) as PublicKeyCredential;
        return credential.toJSON() as never;
      }, options),
  };
}

async function readLine(): Promise<string> {
  const lines = createInterface({ input: process.stdin });
  try {
    for await (const line of lines) return line.trim();
    throw new Error("stdin closed before the email token arrived");
  } finally {
    lines.close();
  }
}

async function main(): Promise<void> {
  const bootstrap = env.BOOTSTRAP_TOKEN;
  check(bootstrap, "BOOTSTRAP_TOKEN is required (raptor bootstrap-token create)");
  check(new URL(BASE_URL).hostname === "localhost", "RAPTOR_URL must use the host localhost");
  const browser = await chromium.launch({
    executablePath: env.CHROMIUM ?? "/usr/bin/chromium",
    headless: true,
    args: ["--no-sandbox", "--disable-gpu", "--no-first-run", "--disable-background-networking"],
    timeout: STEP_TIMEOUT_MS,
  });
  try {
    const context = await browser.newContext();
    context.setDefaultTimeout(STEP_TIMEOUT_MS);
    const page = await context.newPage();
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
    await page.goto(`${BASE_URL}/dev/passkeys`);
    await run(browserAuthenticator(page), bootstrap);
  } finally {
    await browser.close();
  }
}

async function run(authenticator: flows.Authenticator, bootstrap: string): Promise<void> {
  const api = raptorClient(BASE_URL);
  const cookies = nodeSession(new URL(BASE_URL).origin);
  api.use(cookies);

  const registered = await flows.register(api, authenticator, EMAIL, bootstrap);
  step(`registered ${registered.user_id}`);
  console.log(`NEED_EMAIL_TOKEN ${EMAIL}`);
  check(await flows.verifyEmail(api, await readLine()), "the email is verified");
  const signedIn = await flows.signIn(api, authenticator);
  check(cookies.signedIn(), "signing in set the session cookie");
  const me = await flows.session(api);
  check(me.email === EMAIL && me.user_id === signedIn.user_id, "the session names the account");
  step(`signed in as ${me.email}`);

  const { account, positions } = await flows.book(api);
  step(`book: cash ${account.cash}, buying power ${account.buying_power}, ${positions.length} positions`);

  await ordersAndStream(api);

  const mids = await flows.latestMids(api, ["AAPL", "MSFT"]);
  check(mids.has("AAPL"), "a latest quote of AAPL");
  step(`latest AAPL mid ${mids.get("AAPL")}`);
  const bars = await flows.dailyBars(api, "AAPL", "2024-01-02", "2024-02-01");
  check(bars.length > 0, "daily bars");
  step(`${bars.length} daily bars, last close ${bars[bars.length - 1]?.c}`);

  const run = await flows.backtest(api, "AAPL", "2024-01-01", "2024-12-31", Date.now() + STEP_TIMEOUT_MS);
  check(run.status === "succeeded", `the backtest succeeded: ${run.status} ${run.reason ?? ""}`);
  const metrics: Schemas["BacktestMetrics"] | undefined = run.metrics;
  check(metrics, "a finished run has metrics");
  step(
    `backtest: final equity ${metrics.final_equity}, sharpe ${metrics.sharpe}, ` +
      `${metrics.trades} trades, ${run.equity_curve?.length ?? 0} curve points`,
  );
  console.log(`OK ${EMAIL}`);
}

/** Opens the stream, places and cancels an order, and waits for the stream to report it. */
async function ordersAndStream(api: ReturnType<typeof raptorClient>): Promise<void> {
  const abort = new AbortController();
  const seen: OrderStreamEvent[] = [];
  let placedId: string | undefined;
  let resolveSeen: () => void = () => {};
  const sawOurs = new Promise<void>((resolve) => (resolveSeen = resolve));
  const stream = await flows.openOrderStream(api, abort.signal);
  const reader = (async () => {
    for await (const event of stream) {
      seen.push(event);
      if ("order" in event.data && event.data.order.id === placedId) resolveSeen();
    }
  })().catch((error: unknown) => {
    if (!abort.signal.aborted) throw error;
  });

  const order = await flows.placeLimitBuy(api, "AAPL", "1", "1.00", crypto.randomUUID());
  check(order.id, "Alpaca's answer names the order");
  const id: string = order.id;
  placedId = id;
  if (seen.some((e) => "order" in e.data && e.data.order.id === id)) resolveSeen();
  step(`placed ${id} (${order.status})`);
  const open = await flows.openOrders(api);
  check(open.some((o) => o.id === id), "the open orders list the new one");
  await flows.cancel(api, id);
  step(`canceled ${id}`);

  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`no stream event for ${id}`)), STEP_TIMEOUT_MS);
  });
  await Promise.race([sawOurs, timeout]);
  clearTimeout(timer);
  abort.abort();
  await reader;
  const names = seen.map((e) => e.event).join(", ");
  step(`stream events: ${names}`);
}

main().catch((error: unknown) => {
  console.error(error instanceof Error ? (error.stack ?? error.message) : String(error));
  process.exit(1);
});
