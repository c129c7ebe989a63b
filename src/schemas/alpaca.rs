//! Alpaca's objects as Raptor passes them on (orders, the shared account and its positions,
//! latest quotes, trades, bars and snapshots), described by their documented fields. Alpaca
//! adds fields from time to time, so none of these forbids more (`additionalProperties` is
//! left open, JSON Schema's default); a field Alpaca documents as sometimes `null` is nullable,
//! and only fields every object carries are required. Amounts in trading objects are decimal
//! strings; market-data numbers are JSON numbers, as Alpaca sends them.

#![allow(dead_code)] // Schema-only types: the handlers pass Alpaca's JSON through unchanged.

use utoipa::ToSchema;

/// An Alpaca order (`GET /v2/orders/{id}`), as the broker last described it.
#[derive(ToSchema)]
#[schema(example = json!({
    "id": "61e69015-8549-4bfd-b9c3-01e75843f47d",
    "client_order_id": "eb9e2aaa-f71a-4f51-b5b4-52a6c565dad4",
    "created_at": "2026-03-16T18:38:01.942282Z", "updated_at": "2026-03-16T18:38:01.942282Z",
    "submitted_at": "2026-03-16T18:38:01.937734Z", "filled_at": null, "canceled_at": null,
    "asset_id": "904837e3-3b76-47ec-b432-046db621571b", "symbol": "AAPL",
    "asset_class": "us_equity", "notional": null, "qty": "1", "filled_qty": "0",
    "filled_avg_price": null, "order_class": "simple", "order_type": "limit", "type": "limit",
    "side": "buy", "time_in_force": "day", "limit_price": "150.25", "stop_price": null,
    "status": "accepted", "extended_hours": false, "legs": null
}))]
pub struct AlpacaOrder {
    /// Alpaca's order id; `null` only while Raptor waits for Alpaca's answer to a submission
    /// (`status` `pending_new`).
    #[schema(required = true)]
    id: Option<String>,
    /// The idempotency key the order was placed with.
    client_order_id: String,
    created_at: String,
    #[schema(nullable = false)]
    updated_at: Option<String>,
    #[schema(nullable = false)]
    submitted_at: Option<String>,
    filled_at: Option<String>,
    expired_at: Option<String>,
    canceled_at: Option<String>,
    failed_at: Option<String>,
    replaced_at: Option<String>,
    /// The order that replaced this one.
    replaced_by: Option<String>,
    /// The order this one replaced.
    replaces: Option<String>,
    #[schema(nullable = false)]
    asset_id: Option<String>,
    symbol: String,
    #[schema(nullable = false, example = "us_equity")]
    asset_class: Option<String>,
    /// A dollar amount, for a notional order.
    notional: Option<String>,
    /// Shares, for a quantity order.
    qty: Option<String>,
    filled_qty: String,
    filled_avg_price: Option<String>,
    /// `simple`, `bracket`, `oco` or `oto`.
    #[schema(nullable = false)]
    order_class: Option<String>,
    /// Deprecated by Alpaca in favour of `type`.
    #[schema(nullable = false)]
    order_type: Option<String>,
    /// `market`, `limit`, `stop`, `stop_limit` or `trailing_stop`.
    #[schema(rename = "type")]
    kind: String,
    /// `buy` or `sell`.
    side: String,
    time_in_force: String,
    limit_price: Option<String>,
    stop_price: Option<String>,
    /// `new`, `accepted`, `pending_new`, `partially_filled`, `filled`, `canceled`,
    /// `expired`, `rejected`, `replaced`, … (Alpaca's order statuses).
    status: String,
    #[schema(nullable = false)]
    extended_hours: Option<bool>,
    /// A bracket's, OCO's or OTO's other orders.
    #[schema(no_recursion)]
    legs: Option<Vec<AlpacaOrder>>,
    trail_percent: Option<String>,
    trail_price: Option<String>,
    /// The trailing stop's high-water mark.
    hwm: Option<String>,
    /// `buy_to_open`, `sell_to_close`, ….
    position_intent: Option<String>,
}

/// Alpaca's trading account (`GET /v2/account`): the operator's shared paper account.
#[derive(ToSchema)]
pub struct AlpacaAccount {
    id: String,
    #[schema(nullable = false)]
    account_number: Option<String>,
    /// `ACTIVE`, ….
    status: String,
    #[schema(nullable = false)]
    currency: Option<String>,
    cash: String,
    #[schema(nullable = false)]
    buying_power: Option<String>,
    #[schema(nullable = false)]
    non_marginable_buying_power: Option<String>,
    #[schema(nullable = false)]
    equity: Option<String>,
    #[schema(nullable = false)]
    last_equity: Option<String>,
    #[schema(nullable = false)]
    portfolio_value: Option<String>,
    #[schema(nullable = false)]
    long_market_value: Option<String>,
    #[schema(nullable = false)]
    short_market_value: Option<String>,
    #[schema(nullable = false)]
    initial_margin: Option<String>,
    #[schema(nullable = false)]
    maintenance_margin: Option<String>,
    #[schema(nullable = false)]
    multiplier: Option<String>,
    #[schema(nullable = false)]
    daytrade_count: Option<i64>,
    #[schema(nullable = false)]
    pattern_day_trader: Option<bool>,
    #[schema(nullable = false)]
    shorting_enabled: Option<bool>,
    #[schema(nullable = false)]
    trading_blocked: Option<bool>,
    #[schema(nullable = false)]
    transfers_blocked: Option<bool>,
    #[schema(nullable = false)]
    account_blocked: Option<bool>,
    #[schema(nullable = false)]
    trade_suspended_by_user: Option<bool>,
    #[schema(nullable = false)]
    created_at: Option<String>,
}

/// One of the shared account's positions (`GET /v2/positions`).
#[derive(ToSchema)]
pub struct AlpacaPosition {
    #[schema(nullable = false)]
    asset_id: Option<String>,
    symbol: String,
    #[schema(nullable = false)]
    exchange: Option<String>,
    #[schema(nullable = false)]
    asset_class: Option<String>,
    #[schema(nullable = false)]
    avg_entry_price: Option<String>,
    qty: String,
    #[schema(nullable = false)]
    qty_available: Option<String>,
    /// `long` or `short`.
    side: String,
    market_value: Option<String>,
    #[schema(nullable = false)]
    cost_basis: Option<String>,
    unrealized_pl: Option<String>,
    unrealized_plpc: Option<String>,
    unrealized_intraday_pl: Option<String>,
    unrealized_intraday_plpc: Option<String>,
    current_price: Option<String>,
    lastday_price: Option<String>,
    change_today: Option<String>,
}

/// Alpaca's latest quote of a stock (Market Data API v2).
#[derive(ToSchema)]
#[schema(example = json!({
    "t": "2026-03-18T14:02:43.651613184Z", "ax": "P", "ap": 161.11, "as": 13,
    "bx": "K", "bp": 161.1, "bs": 2, "c": ["R"], "z": "C"
}))]
pub struct AlpacaQuote {
    /// When (RFC 3339, nanoseconds).
    t: String,
    /// Ask exchange.
    #[schema(nullable = false)]
    ax: Option<String>,
    /// Ask price.
    ap: f64,
    /// Ask size.
    #[schema(rename = "as")]
    ask_size: f64,
    /// Bid exchange.
    #[schema(nullable = false)]
    bx: Option<String>,
    /// Bid price.
    bp: f64,
    /// Bid size.
    bs: f64,
    /// Conditions.
    #[schema(nullable = false)]
    c: Option<Vec<String>>,
    /// Tape.
    #[schema(nullable = false)]
    z: Option<String>,
}

/// Alpaca's latest trade of a stock.
#[derive(ToSchema)]
#[schema(example = json!({
    "t": "2026-03-18T14:02:09.722539521Z", "x": "D", "p": 161.2958, "s": 100,
    "c": ["@"], "i": 22730, "z": "C"
}))]
pub struct AlpacaTrade {
    /// When (RFC 3339, nanoseconds).
    t: String,
    /// Exchange.
    #[schema(nullable = false)]
    x: Option<String>,
    /// Price.
    p: f64,
    /// Size.
    s: f64,
    /// Conditions.
    #[schema(nullable = false)]
    c: Option<Vec<String>>,
    /// Trade id.
    #[schema(nullable = false)]
    i: Option<i64>,
    /// Tape.
    #[schema(nullable = false)]
    z: Option<String>,
}

/// Alpaca's bar: open, high, low, close and volume over one period starting at `t`.
#[derive(ToSchema)]
#[schema(example = json!({
    "t": "2026-07-26T20:50:00Z", "o": 392.18, "h": 392.18, "l": 392.18, "c": 392.18,
    "v": 2100, "n": 2, "vw": 392.18
}))]
pub struct AlpacaBar {
    /// The period's start (RFC 3339).
    t: String,
    o: f64,
    h: f64,
    l: f64,
    c: f64,
    /// Volume.
    v: f64,
    /// Number of trades.
    #[schema(nullable = false)]
    n: Option<f64>,
    /// Volume-weighted average price.
    #[schema(nullable = false)]
    vw: Option<f64>,
}

/// Alpaca's snapshot of a stock: its latest trade and quote, the current minute's and day's
/// bars and the previous day's.
#[derive(ToSchema)]
#[allow(non_snake_case)] // Alpaca's field names.
pub struct AlpacaSnapshot {
    latestTrade: Option<AlpacaTrade>,
    latestQuote: Option<AlpacaQuote>,
    minuteBar: Option<AlpacaBar>,
    dailyBar: Option<AlpacaBar>,
    prevDailyBar: Option<AlpacaBar>,
}
