// The SPA's main flows, one function each, through the typed client: register and sign in with
// a passkey, the session, the book, orders, the live stream, market data, a backtest. Every
// request and response body is a generated type: a change to the document that breaks one of
// these calls fails `tsc`.

import { ok, type RaptorClient, type Schemas } from "./client.js";
import { events, type OrderStreamEvent } from "./sse.js";

/** What performs the browser's part of a ceremony (`navigator.credentials`): options JSON in,
 * the credential's `toJSON()` out. */
export interface Authenticator {
  create(options: Schemas["PublicKeyCredentialCreationOptions"]): Promise<Schemas["NewCredential"]>;
  get(
    options: Schemas["PublicKeyCredentialRequestOptions"],
    mediation?: string,
  ): Promise<Schemas["Assertion"]>;
}

/** Registers a passkey account with an invitation; the emailed token then activates it. */
export async function register(
  api: RaptorClient,
  auth: Authenticator,
  email: string,
  bootstrapToken: string,
): Promise<Schemas["Registered"]> {
  const ceremony = ok(
    await api.POST("/api/auth/register/options", { body: { email, bootstrap_token: bootstrapToken } }),
  );
  const credential = await auth.create(ceremony.publicKey);
  return ok(
    await api.POST("/api/auth/register/verify", {
      body: { ceremony_id: ceremony.ceremony_id, email, credential },
    }),
  );
}

/** Follows the verification link's token. */
export async function verifyEmail(api: RaptorClient, token: string): Promise<boolean> {
  return ok(await api.POST("/api/auth/email/verify", { body: { token } })).verified;
}

/** Signs in with a passkey (usernameless: no email sent) and returns the session. */
export async function signIn(api: RaptorClient, auth: Authenticator): Promise<Schemas["SessionBody"]> {
  const ceremony = ok(await api.POST("/api/auth/login/options", { body: {} }));
  const credential = await auth.get(ceremony.publicKey, ceremony.mediation);
  return ok(
    await api.POST("/api/auth/login/verify", {
      body: { ceremony_id: ceremony.ceremony_id, credential },
    }),
  );
}

/** Who is signed in. */
export async function session(api: RaptorClient): Promise<Schemas["SessionBody"]> {
  return ok(await api.GET("/api/auth/session"));
}

/** The caller's own paper book. */
export async function book(
  api: RaptorClient,
): Promise<{ account: Schemas["AccountBody"]; positions: Schemas["PositionBody"][] }> {
  const [account, positions] = await Promise.all([
    api.GET("/api/trading/account"),
    api.GET("/api/trading/positions"),
  ]);
  return { account: ok(account), positions: ok(positions) };
}

/** Places a limit order, retry-safe by its idempotency key. */
export async function placeLimitBuy(
  api: RaptorClient,
  symbol: string,
  qty: string,
  limitPrice: string,
  key: string,
): Promise<Schemas["AlpacaOrder"]> {
  return ok(
    await api.POST("/api/trading/orders", {
      params: { header: { "Idempotency-Key": key } },
      body: { symbol, qty, side: "buy", type: "limit", time_in_force: "day", limit_price: limitPrice },
    }),
  );
}

/** The caller's open orders, first page. */
export async function openOrders(api: RaptorClient): Promise<Schemas["AlpacaOrder"][]> {
  return ok(await api.GET("/api/trading/orders", { params: { query: { status: "open" } } }));
}

/** Cancels one of the caller's orders. */
export async function cancel(api: RaptorClient, id: string): Promise<void> {
  const { response, error } = await api.DELETE("/api/trading/orders/{id}", {
    params: { path: { id } },
  });
  if (response.status !== 204) ok({ error, response });
}

/** Opens the order stream (resuming after `lastEventId`); once Raptor has answered, its events
 * arrive through the returned generator until `signal` aborts. */
export async function openOrderStream(
  api: RaptorClient,
  signal: AbortSignal,
  lastEventId?: string,
): Promise<AsyncGenerator<OrderStreamEvent>> {
  const result = await api.GET("/api/trading/stream", {
    params: { header: lastEventId === undefined ? {} : { "Last-Event-ID": lastEventId } },
    parseAs: "stream",
    signal,
  });
  const body = ok(result);
  if (!body) throw new Error("the stream answered without a body");
  return events(body);
}

/** The latest quote of each symbol, and each symbol's mid price. */
export async function latestMids(api: RaptorClient, symbols: string[]): Promise<Map<string, number>> {
  const { quotes } = ok(
    await api.GET("/api/market-data/quotes/latest", { params: { query: { symbols: symbols.join(",") } } }),
  );
  const mids = new Map<string, number>();
  for (const [symbol, quote] of Object.entries(quotes)) mids.set(symbol, (quote.ap + quote.bp) / 2);
  return mids;
}

/** One page of daily bars. */
export async function dailyBars(
  api: RaptorClient,
  symbol: string,
  start: string,
  end: string,
): Promise<Schemas["AlpacaBar"][]> {
  const page = ok(
    await api.GET("/api/historical-data/bars", {
      params: { query: { symbol, timeframe: "1Day", start, end } },
    }),
  );
  return page.bars;
}

/** Runs an SMA-crossover backtest, waiting for it, and returns the finished run. */
export async function backtest(
  api: RaptorClient,
  symbol: string,
  start: string,
  end: string,
  deadline: number,
): Promise<Schemas["BacktestRun"]> {
  const submitted = ok(
    await api.POST("/api/backtest", {
      body: {
        symbol,
        timeframe: "1Day",
        start,
        end,
        strategy: { name: "sma_crossover", params: { fast: 3, slow: 8 } },
        initial_cash: "100000",
      },
    }),
  );
  let run: Schemas["BacktestRun"] | Schemas["BacktestPending"] = submitted;
  while (run.status === "queued" || run.status === "running") {
    if (Date.now() > deadline) throw new Error(`backtest ${run.id} still ${run.status}`);
    await new Promise((resolve) => setTimeout(resolve, 200));
    run = ok(await api.GET("/api/backtest/{id}", { params: { path: { id: run.id } } }));
  }
  if (!("request" in run)) throw new Error("a finished run carries its request");
  return run;
}
