//! Trading requests in Raptor's own words, parsed once at the edge and valid by construction.
//!
//! A handler turns what a client sent into an [`OrderDraft`] and then into an [`OrderRequest`]
//! with `OrderRequest::try_from(draft)`; every rule is checked there and all broken rules are
//! reported together, field by field. After that no code re-checks: a market order cannot carry
//! a limit price, a quantity cannot be zero, a symbol cannot hold a space. Amounts are
//! [`Decimal`]s from the client's text to Alpaca's, never floats.

use std::fmt;

use rust_decimal::Decimal;
use serde::Serialize;

/// One rule an input broke, named by the field the client sent.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct FieldProblem {
    pub field: &'static str,
    pub problem: String,
}

/// Everything wrong with an input, at least one problem.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("the request is not valid ({} problem(s))", .problems.len())]
pub struct InvalidInput {
    pub problems: Vec<FieldProblem>,
}

impl InvalidInput {
    fn single(field: &'static str, problem: impl Into<String>) -> Self {
        Self {
            problems: vec![FieldProblem {
                field,
                problem: problem.into(),
            }],
        }
    }
}

/// Collects problems while a whole input is checked.
#[derive(Default)]
struct Problems(Vec<FieldProblem>);

impl Problems {
    fn add(&mut self, field: &'static str, problem: impl Into<String>) {
        self.0.push(FieldProblem {
            field,
            problem: problem.into(),
        });
    }

    /// Keeps the value of a parse, or records why it failed.
    fn take<T>(&mut self, field: &'static str, parsed: Result<T, String>) -> Option<T> {
        parsed.map_err(|problem| self.add(field, problem)).ok()
    }

    fn finish<T>(self, value: impl FnOnce() -> Option<T>) -> Result<T, InvalidInput> {
        match (self.0.is_empty(), value()) {
            (true, Some(value)) => Ok(value),
            (true, None) => Err(InvalidInput::single("body", "is incomplete")),
            (false, _) => Err(InvalidInput { problems: self.0 }),
        }
    }
}

/// A ticker such as `AAPL`, `BRK.B` or the crypto pair `BTC/USD`, in upper case.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Symbol(String);

impl Symbol {
    /// Upper-cases `raw` and accepts 1–15 characters of letters and digits with at most one
    /// `.` or `/` between them.
    pub fn parse(raw: &str) -> Result<Self, String> {
        let symbol = raw.trim().to_ascii_uppercase();
        let valid_chars = symbol
            .chars()
            .all(|c| c.is_ascii_uppercase() || c.is_ascii_digit() || c == '.' || c == '/');
        let separators = symbol.matches(['.', '/']).count();
        let starts_and_ends_alnum = symbol.starts_with(|c: char| c.is_ascii_alphanumeric())
            && symbol.ends_with(|c: char| c.is_ascii_alphanumeric());
        if symbol.is_empty() || symbol.len() > 15 {
            Err("must be 1 to 15 characters".into())
        } else if !valid_chars || separators > 1 || !starts_and_ends_alnum {
            Err("must be a ticker like AAPL, BRK.B or BTC/USD".into())
        } else {
            Ok(Self(symbol))
        }
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for Symbol {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// A decimal greater than zero: a quantity, a notional amount or a price.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Positive(Decimal);

impl Positive {
    pub fn parse(value: Decimal) -> Result<Self, String> {
        if value > Decimal::ZERO {
            Ok(Self(value))
        } else {
            Err("must be greater than zero".into())
        }
    }

    pub fn get(self) -> Decimal {
        self.0
    }
}

impl fmt::Display for Positive {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.fmt(f)
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Side {
    Buy,
    Sell,
}

impl Side {
    pub fn parse(raw: &str) -> Result<Self, String> {
        match raw {
            "buy" => Ok(Side::Buy),
            "sell" => Ok(Side::Sell),
            _ => Err("must be buy or sell".into()),
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Side::Buy => "buy",
            Side::Sell => "sell",
        }
    }
}

/// How long an order stays working.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum TimeInForce {
    Day,
    Gtc,
    Opg,
    Cls,
    Ioc,
    Fok,
}

impl TimeInForce {
    pub fn parse(raw: &str) -> Result<Self, String> {
        match raw {
            "day" => Ok(Self::Day),
            "gtc" => Ok(Self::Gtc),
            "opg" => Ok(Self::Opg),
            "cls" => Ok(Self::Cls),
            "ioc" => Ok(Self::Ioc),
            "fok" => Ok(Self::Fok),
            _ => Err("must be one of day, gtc, opg, cls, ioc, fok".into()),
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Day => "day",
            Self::Gtc => "gtc",
            Self::Opg => "opg",
            Self::Cls => "cls",
            Self::Ioc => "ioc",
            Self::Fok => "fok",
        }
    }
}

/// The order type with exactly the prices it needs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum OrderKind {
    Market,
    Limit {
        limit_price: Positive,
    },
    Stop {
        stop_price: Positive,
    },
    StopLimit {
        stop_price: Positive,
        limit_price: Positive,
    },
}

impl OrderKind {
    /// Alpaca's and the client's name of the type.
    pub fn as_str(&self) -> &'static str {
        match self {
            Self::Market => "market",
            Self::Limit { .. } => "limit",
            Self::Stop { .. } => "stop",
            Self::StopLimit { .. } => "stop_limit",
        }
    }

    pub fn limit_price(&self) -> Option<Positive> {
        match *self {
            Self::Limit { limit_price } | Self::StopLimit { limit_price, .. } => Some(limit_price),
            _ => None,
        }
    }

    pub fn stop_price(&self) -> Option<Positive> {
        match *self {
            Self::Stop { stop_price } | Self::StopLimit { stop_price, .. } => Some(stop_price),
            _ => None,
        }
    }
}

/// How much to trade: a number of shares, or an amount of money.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum OrderSize {
    Qty(Positive),
    Notional(Positive),
}

/// An order as a client asked for it, before any rule is checked.
#[derive(Debug, Clone, Default)]
pub struct OrderDraft {
    pub symbol: Option<String>,
    pub qty: Option<Decimal>,
    pub notional: Option<Decimal>,
    pub side: Option<String>,
    pub order_type: Option<String>,
    pub time_in_force: Option<String>,
    pub limit_price: Option<Decimal>,
    pub stop_price: Option<Decimal>,
    pub extended_hours: Option<bool>,
}

/// A valid order request.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct OrderRequest {
    pub symbol: Symbol,
    pub size: OrderSize,
    pub side: Side,
    pub kind: OrderKind,
    pub time_in_force: TimeInForce,
    pub extended_hours: bool,
}

fn required<T>(value: Option<T>) -> Result<T, String> {
    value.ok_or_else(|| "is required".to_owned())
}

impl TryFrom<OrderDraft> for OrderRequest {
    type Error = InvalidInput;

    fn try_from(draft: OrderDraft) -> Result<Self, InvalidInput> {
        let mut p = Problems::default();
        let symbol = p.take(
            "symbol",
            required(draft.symbol).and_then(|s| Symbol::parse(&s)),
        );
        let size = match (draft.qty, draft.notional) {
            (Some(qty), None) => p.take("qty", Positive::parse(qty)).map(OrderSize::Qty),
            (None, Some(notional)) => p
                .take("notional", Positive::parse(notional))
                .map(OrderSize::Notional),
            (Some(_), Some(_)) => {
                p.add("notional", "give qty or notional, not both");
                None
            }
            (None, None) => {
                p.add("qty", "qty or notional is required");
                None
            }
        };
        let side = p.take("side", required(draft.side).and_then(|s| Side::parse(&s)));
        let time_in_force = p.take(
            "time_in_force",
            required(draft.time_in_force).and_then(|s| TimeInForce::parse(&s)),
        );
        let limit = draft.limit_price.map(Positive::parse);
        let stop = draft.stop_price.map(Positive::parse);
        let kind = match draft.order_type.as_deref() {
            None => {
                p.add("type", "is required");
                None
            }
            Some(kind @ ("market" | "limit" | "stop" | "stop_limit")) => {
                let needs_limit = matches!(kind, "limit" | "stop_limit");
                let needs_stop = matches!(kind, "stop" | "stop_limit");
                let limit_price = price(&mut p, "limit_price", limit, needs_limit, kind);
                let stop_price = price(&mut p, "stop_price", stop, needs_stop, kind);
                match (kind, limit_price, stop_price) {
                    ("market", _, _) => Some(OrderKind::Market),
                    ("limit", Some(limit_price), _) => Some(OrderKind::Limit { limit_price }),
                    ("stop", _, Some(stop_price)) => Some(OrderKind::Stop { stop_price }),
                    ("stop_limit", Some(limit_price), Some(stop_price)) => {
                        Some(OrderKind::StopLimit {
                            stop_price,
                            limit_price,
                        })
                    }
                    _ => None,
                }
            }
            Some(_) => {
                p.add("type", "must be one of market, limit, stop, stop_limit");
                None
            }
        };
        p.finish(|| {
            Some(OrderRequest {
                symbol: symbol?,
                size: size?,
                side: side?,
                kind: kind?,
                time_in_force: time_in_force?,
                extended_hours: draft.extended_hours.unwrap_or(false),
            })
        })
    }
}

/// Checks a price the order type requires (`needed`) or forbids.
fn price(
    p: &mut Problems,
    field: &'static str,
    given: Option<Result<Positive, String>>,
    needed: bool,
    kind: &str,
) -> Option<Positive> {
    match (given, needed) {
        (Some(parsed), true) => p.take(field, parsed),
        (None, true) => {
            p.add(field, format!("is required for {kind} orders"));
            None
        }
        (Some(_), false) => {
            p.add(field, format!("is not allowed for {kind} orders"));
            None
        }
        (None, false) => None,
    }
}

impl OrderRequest {
    /// A stable text of the request: two submissions under one idempotency key must be equal
    /// in this form (`1.50` and `1.5` are the same amount).
    pub fn canonical_json(&self) -> String {
        let amount = |v: Positive| v.get().normalize().to_string();
        let (qty, notional) = match self.size {
            OrderSize::Qty(q) => (Some(amount(q)), None),
            OrderSize::Notional(n) => (None, Some(amount(n))),
        };
        serde_json::json!({
            "symbol": self.symbol.as_str(),
            "qty": qty,
            "notional": notional,
            "side": self.side.as_str(),
            "type": self.kind.as_str(),
            "time_in_force": self.time_in_force.as_str(),
            "limit_price": self.kind.limit_price().map(amount),
            "stop_price": self.kind.stop_price().map(amount),
            "extended_hours": self.extended_hours,
        })
        .to_string()
    }
}

/// The id under which the broker knows an order we sent. Raptor always chooses it (derived from
/// the user and their idempotency key, or random), so users of the shared paper account can
/// never collide.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct ClientOrderId(String);

impl ClientOrderId {
    /// The id for `user`'s submission under `key`: the same key always yields the same id, so
    /// even a retry the ledger lost is refused by the broker as a duplicate.
    pub fn for_key(user: uuid::Uuid, key: &IdempotencyKey) -> Self {
        use sha2::{Digest, Sha256};
        let digest = Sha256::new()
            .chain_update(user.as_bytes())
            .chain_update(key.as_str().as_bytes())
            .finalize();
        Self(format!("rx-{}", &hex::encode(digest)[..40]))
    }

    /// A fresh id for a submission without an idempotency key.
    pub fn random() -> Self {
        Self(format!("rx-{}", uuid::Uuid::new_v4().simple()))
    }

    /// Accepts an id read back from the ledger or the broker.
    pub fn parse(raw: &str) -> Result<Self, String> {
        if raw.is_empty() || raw.len() > 128 || !raw.chars().all(|c| c.is_ascii_graphic()) {
            return Err("must be 1 to 128 printable characters".into());
        }
        Ok(Self(raw.to_owned()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for ClientOrderId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// An idempotency key a client chose (`Idempotency-Key` or its own `client_order_id`).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct IdempotencyKey(String);

impl IdempotencyKey {
    /// 1–128 printable ASCII characters.
    pub fn parse(raw: &str) -> Result<Self, String> {
        let key = raw.trim();
        if key.is_empty() || key.len() > 128 || !key.chars().all(|c| c.is_ascii_graphic()) {
            return Err("must be 1 to 128 printable characters without spaces".into());
        }
        Ok(Self(key.to_owned()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// An order's id at the broker (Alpaca's order ids are UUIDs).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct OrderId(pub uuid::Uuid);

impl OrderId {
    pub fn parse(raw: &str) -> Result<Self, String> {
        raw.parse()
            .map(OrderId)
            .map_err(|_| "is not an order id".to_owned())
    }
}

impl fmt::Display for OrderId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.fmt(f)
    }
}

/// Which orders to list.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OrderStatusFilter {
    Open,
    Closed,
    All,
}

impl OrderStatusFilter {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Open => "open",
            Self::Closed => "closed",
            Self::All => "all",
        }
    }
}

/// `GET /api/trading/orders`: which orders, and at most how many (newest first).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct OrderQuery {
    pub status: OrderStatusFilter,
    pub limit: u16,
}

impl OrderQuery {
    /// Alpaca's own bounds: at most 500 orders a page.
    pub const MAX_LIMIT: u16 = 500;
    pub const DEFAULT_LIMIT: u16 = 50;

    /// `status` is open (the default), closed or all; `limit` is 1–500 (default 50).
    pub fn parse(status: Option<&str>, limit: Option<&str>) -> Result<Self, InvalidInput> {
        let mut p = Problems::default();
        let status = p.take(
            "status",
            match status {
                None | Some("open") => Ok(OrderStatusFilter::Open),
                Some("closed") => Ok(OrderStatusFilter::Closed),
                Some("all") => Ok(OrderStatusFilter::All),
                Some(_) => Err("must be open, closed or all".to_owned()),
            },
        );
        let limit = p.take(
            "limit",
            match limit.map(str::parse::<u16>) {
                None => Ok(Self::DEFAULT_LIMIT),
                Some(Ok(n)) if (1..=Self::MAX_LIMIT).contains(&n) => Ok(n),
                Some(_) => Err(format!(
                    "must be a whole number from 1 to {}",
                    Self::MAX_LIMIT
                )),
            },
        );
        p.finish(|| {
            Some(OrderQuery {
                status: status?,
                limit: limit?,
            })
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::str::FromStr;

    fn dec(s: &str) -> Decimal {
        Decimal::from_str(s).unwrap()
    }

    fn draft() -> OrderDraft {
        OrderDraft {
            symbol: Some("aapl".into()),
            qty: Some(dec("1.50")),
            side: Some("buy".into()),
            order_type: Some("market".into()),
            time_in_force: Some("day".into()),
            ..OrderDraft::default()
        }
    }

    fn fields(draft: OrderDraft) -> Vec<&'static str> {
        OrderRequest::try_from(draft)
            .unwrap_err()
            .problems
            .iter()
            .map(|p| p.field)
            .collect()
    }

    #[test]
    fn a_valid_market_order_parses_and_keeps_its_decimals() {
        let order = OrderRequest::try_from(draft()).unwrap();
        assert_eq!(order.symbol.as_str(), "AAPL");
        assert_eq!(order.size, OrderSize::Qty(Positive(dec("1.50"))));
        assert_eq!(
            order.size,
            OrderSize::Qty(Positive::parse(dec("1.5")).unwrap())
        );
        assert!(order.canonical_json().contains(r#""qty":"1.5""#));
    }

    #[test]
    fn symbols_are_tickers() {
        for ok in ["AAPL", "brk.b", "BTC/USD", "X", "SPY"] {
            assert!(Symbol::parse(ok).is_ok(), "{ok}");
        }
        for bad in [
            "",
            "AA PL",
            "AAPL;",
            ".A",
            "A.",
            "A./B",
            "ABCDEFGHIJKLMNOP",
            "ÄPFEL",
        ] {
            assert!(Symbol::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn every_broken_rule_is_reported_at_once() {
        let broken = OrderDraft {
            symbol: Some("A B".into()),
            qty: Some(dec("0")),
            side: Some("hold".into()),
            order_type: Some("limit".into()),
            time_in_force: Some("week".into()),
            stop_price: Some(dec("5")),
            ..OrderDraft::default()
        };
        let mut got = fields(broken);
        got.sort_unstable();
        assert_eq!(
            got,
            [
                "limit_price",
                "qty",
                "side",
                "stop_price",
                "symbol",
                "time_in_force"
            ]
        );
    }

    #[test]
    fn qty_and_notional_are_exclusive_and_one_is_required() {
        let both = OrderDraft {
            notional: Some(dec("100")),
            ..draft()
        };
        assert_eq!(fields(both), ["notional"]);
        let neither = OrderDraft {
            qty: None,
            ..draft()
        };
        assert_eq!(fields(neither), ["qty"]);
        let negative = OrderDraft {
            qty: None,
            notional: Some(dec("-1")),
            ..draft()
        };
        assert_eq!(fields(negative), ["notional"]);
    }

    #[test]
    fn prices_follow_the_order_type() {
        let stop_limit = OrderDraft {
            order_type: Some("stop_limit".into()),
            limit_price: Some(dec("10.25")),
            stop_price: Some(dec("10")),
            ..draft()
        };
        let order = OrderRequest::try_from(stop_limit).unwrap();
        assert_eq!(order.kind.limit_price().unwrap().get(), dec("10.25"));
        let market_with_price = OrderDraft {
            limit_price: Some(dec("10")),
            ..draft()
        };
        assert_eq!(fields(market_with_price), ["limit_price"]);
        let trailing = OrderDraft {
            order_type: Some("trailing_stop".into()),
            ..draft()
        };
        assert_eq!(fields(trailing), ["type"]);
    }

    #[test]
    fn order_queries_are_bounded() {
        assert_eq!(
            OrderQuery::parse(None, None).unwrap(),
            OrderQuery {
                status: OrderStatusFilter::Open,
                limit: 50
            }
        );
        assert_eq!(
            OrderQuery::parse(Some("all"), Some("500")).unwrap().limit,
            500
        );
        for bad in ["0", "501", "-1", "ten"] {
            assert!(OrderQuery::parse(None, Some(bad)).is_err(), "{bad}");
        }
        assert!(OrderQuery::parse(Some("pending"), None).is_err());
    }
}
