//! Pre-trade risk limits (docs/trading.md): every user trades on one shared paper account
//! (ADR 0049) through a book of their own, so no order may spend more than its owner has, sell
//! what its owner does not hold, or exhaust the account for the others. Checked before any
//! broker call:
//!
//! - [`Limit::AssetClass`]: the class of the order's asset (Alpaca's, from
//!   [`super::assets`]: `BTCUSD` is crypto however it is spelled) is in `TRADING_ASSET_CLASSES`.
//! - Every order is priced ([`Estimate`]): a share at the larger of its stated limit/stop price
//!   and the latest trade; a market order at the latest trade plus [`MARKET_COLLAR`]; a
//!   trailing stop at the latest trade plus its trail, plus [`MARKET_COLLAR`] (it becomes a
//!   market order when triggered, and a buy's stop never starts above the latest trade plus
//!   the trail). An oco's exit legs are on its own side, so their prices count as stated prices
//!   too; a bracket's or an oto's legs close what the entry opens and are not priced (they
//!   reserve nothing: the entry's reservation is the order's). No stated price can make an
//!   order look smaller than it will fill. With no latest trade the order is refused
//!   ([`RiskError::NoPrice`], 503): a check is never skipped.
//! - An order with exit legs and no stated entry price (a market bracket or oto, an oco) has
//!   its legs checked against the latest trade ([`class::side_problems`]): 422 otherwise.
//! - [`Limit::OrderNotional`]: the estimate is at most `TRADING_MAX_ORDER_NOTIONAL`.
//! - [`Limit::BuyingPower`], [`Limit::Position`], [`Limit::OpenOrders`] and
//!   [`Limit::DailyOrders`]: checked against the book and the ledger under the user's order lock
//!   in the same transaction that claims the new row ([`super::ledger::limits`]), so concurrent
//!   submissions cannot pass a limit together.
//!
//! A refusal is audited (`order.submit.refused`) naming the limit; nothing is recorded or sent.

use raptor_actors::market_data::{LatestKind, MarketDataClient};
use rust_decimal::Decimal;
use serde_json::json;

use super::order::class::{self, OrderClass};
use super::order::{OrderRequest, OrderSize, Positive};
use super::{Trader, Trading};
use crate::audit::AuditEvent;
use crate::input::InvalidInput;

/// Pre-trade risk limits per user on the shared paper account, checked before any broker call
/// (built from the `TRADING_*` settings in `startup::wiring`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RiskLimits {
    /// Largest notional of one order in USD; `None` (development and test only) checks none.
    pub max_order_notional: Option<Decimal>,
    /// Orders one user may have open (submitted and not yet filled, cancelled, expired...).
    pub max_open_orders: u32,
    /// Orders one user may submit per UTC day.
    pub max_orders_per_day: u32,
    /// Asset classes one may trade (`us_equity`, `crypto`).
    pub asset_classes: Vec<String>,
    /// The cash (USD) a paper book starts with when it is opened.
    pub initial_cash: Decimal,
    /// Broker calls (order submits and cancels) one user may make a minute, per process.
    pub user_calls_per_minute: u32,
}

/// A risk limit an order would break.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Limit {
    AssetClass,
    OrderNotional,
    OpenOrders,
    DailyOrders,
    /// A buy costs more than the book's buying power.
    BuyingPower,
    /// A sell exceeds what the book holds and its open sells do not hold back.
    Position,
}

impl Limit {
    /// The limit's name on the wire (`error.fields.limit`) and in the audit row.
    pub fn as_str(self) -> &'static str {
        match self {
            Limit::AssetClass => "asset_class",
            Limit::OrderNotional => "max_order_notional",
            Limit::OpenOrders => "max_open_orders",
            Limit::DailyOrders => "max_orders_per_day",
            Limit::BuyingPower => "buying_power",
            Limit::Position => "position",
        }
    }
}

/// An order refused by a risk limit, with a message naming the limit.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{message}")]
pub struct Refusal {
    pub limit: Limit,
    pub message: String,
}

impl Refusal {
    pub fn new(limit: Limit, message: impl Into<String>) -> Self {
        Self {
            limit,
            message: message.into(),
        }
    }

    /// The refusal for a count limit (`OpenOrders`, `DailyOrders`) at `max`.
    pub fn count(limit: Limit, max: u32) -> Self {
        let what = match limit {
            Limit::OpenOrders => format!("at most {max} open orders per user"),
            _ => format!("at most {max} orders per user per day (UTC)"),
        };
        Self::new(limit, format!("risk limit {}: {what}", limit.as_str()))
    }
}

/// Why the risk checks could not pass an order.
#[derive(Debug, thiserror::Error)]
pub enum RiskError {
    #[error(transparent)]
    Refused(Refusal),
    /// No latest trade for the order's symbol: it cannot be priced.
    #[error("no recent price for {symbol}: the order's notional cannot be checked")]
    NoPrice { symbol: String },
    /// Exit legs on the wrong side of the latest trade.
    #[error(transparent)]
    Invalid(InvalidInput),
}

/// What a market order's share is priced at above the latest trade: 2%.
pub const MARKET_COLLAR: Decimal = Decimal::from_parts(102, 0, 0, false, 2);

/// How an order is priced for the checks and what it reserves in its owner's book.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Estimate {
    /// The price of one share (see the module's documentation).
    pub price: Decimal,
    /// What the order is worth: `qty ×` price, or its notional.
    pub cost: Decimal,
    /// The shares it moves: its `qty`, or a notional divided by the latest trade.
    pub shares: Decimal,
    /// The latest trade it was priced from.
    pub latest: Decimal,
}

impl Estimate {
    /// Prices `order` from the latest trade.
    pub fn of(order: &OrderRequest, latest: Decimal) -> Option<Self> {
        let price = match (order.kind.trail(), stated_price(order)) {
            (Some(trail), _) => latest
                .checked_add(trail.distance(latest)?)?
                .checked_mul(MARKET_COLLAR)?,
            (None, Some(stated)) => stated.max(latest),
            (None, None) => latest.checked_mul(MARKET_COLLAR)?,
        };
        let (cost, shares) = match order.size {
            OrderSize::Qty(qty) => (qty.get().checked_mul(price)?, qty.get()),
            OrderSize::Notional(amount) => (amount.get(), amount.get().checked_div(latest)?),
        };
        Some(Self {
            price,
            cost,
            shares,
            latest,
        })
    }
}

/// The largest price `order` states: its own limit and stop, and an oco's legs' prices.
fn stated_price(order: &OrderRequest) -> Option<Decimal> {
    let own = [order.kind.limit_price(), order.kind.stop_price()];
    let legs = match order.class {
        OrderClass::Oco {
            take_profit,
            stop_loss,
        } => [
            Some(take_profit.limit_price),
            Some(stop_loss.stop_price),
            stop_loss.limit_price,
        ],
        _ => [None; 3],
    };
    own.into_iter()
        .chain(legs)
        .flatten()
        .map(Positive::get)
        .max()
}

/// An order with exit legs and no stated entry price: its legs against the latest trade.
fn check_legs(order: &OrderRequest, latest: Decimal) -> Result<(), RiskError> {
    if order.class == OrderClass::Simple || class::entry_price(order).is_some() {
        return Ok(());
    }
    let problems = class::side_problems(order, Some((latest, "the latest trade")));
    let mut problems = problems.into_iter();
    let Some((field, problem)) = problems.next() else {
        return Ok(());
    };
    let mut invalid = InvalidInput::single(field, problem);
    invalid
        .problems
        .extend(problems.map(|(field, problem)| crate::input::FieldProblem { field, problem }));
    Err(RiskError::Invalid(invalid))
}

/// The checks that need no book: the asset's `class`, the price, and the notional limit.
pub async fn check_order(
    limits: &RiskLimits,
    market_data: &MarketDataClient,
    order: &OrderRequest,
    class: &str,
) -> Result<Estimate, RiskError> {
    if !limits.asset_classes.iter().any(|c| c == class) {
        return Err(RiskError::Refused(Refusal::new(
            Limit::AssetClass,
            format!(
                "risk limit asset_class: {class} is not tradable here (allowed: {})",
                limits.asset_classes.join(", ")
            ),
        )));
    }
    let latest = latest_trade(market_data, order.symbol.as_str()).await?;
    check_legs(order, latest)?;
    let estimate = Estimate::of(order, latest).ok_or_else(|| {
        RiskError::Refused(Refusal::new(
            Limit::OrderNotional,
            "risk limit max_order_notional: this order is too large to price",
        ))
    })?;
    if let Some(max) = limits.max_order_notional {
        if estimate.cost > max {
            return Err(RiskError::Refused(Refusal::new(
                Limit::OrderNotional,
                format!(
                    "risk limit max_order_notional: this order is about {} USD, above {max} USD",
                    estimate.cost.round_dp(2)
                ),
            )));
        }
    }
    Ok(estimate)
}

/// The latest trade price of `symbol` (market data: its cache, else Alpaca).
async fn latest_trade(market_data: &MarketDataClient, symbol: &str) -> Result<Decimal, RiskError> {
    let symbol = symbol.to_owned();
    let no_price = || RiskError::NoPrice {
        symbol: symbol.clone(),
    };
    let latest = match market_data
        .latest_for_order(LatestKind::Trades, std::slice::from_ref(&symbol))
        .await
    {
        Ok(latest) => latest,
        Err(error) => {
            tracing::warn!(%error, %symbol, "no latest trade to price an order");
            return Err(no_price());
        }
    };
    latest
        .into_iter()
        .find_map(|(_, found)| found)
        .and_then(|raw| trade_price(&raw))
        .ok_or_else(no_price)
}

/// The price (`p`) of one of Alpaca's latest-trade objects (`{"t":..,"p":187.3,..}`).
pub fn trade_price(raw: &str) -> Option<Decimal> {
    let value: serde_json::Value = serde_json::from_str(raw).ok()?;
    let price = value.get("p")?;
    let text = match price {
        serde_json::Value::Number(n) => n.to_string(),
        serde_json::Value::String(s) => s.clone(),
        _ => return None,
    };
    let price: Decimal = text.parse().ok()?;
    (price > Decimal::ZERO).then_some(price)
}

/// Audits a refusal (`order.submit.refused`); a refusal changes nothing, so a failure to
/// audit it is logged, not answered.
pub async fn audit_refusal(
    trading: &Trading<'_>,
    trader: &Trader,
    order: &OrderRequest,
    refusal: &Refusal,
) {
    let mut entry = trader.entry(AuditEvent::OrderSubmitRefused, order.symbol.as_str());
    let mut details = order.audit_details();
    details["limit"] = json!(refusal.limit.as_str());
    details["message"] = json!(refusal.message);
    entry.details = details;
    if trading.append(entry).await.is_err() {
        tracing::error!(
            limit = refusal.limit.as_str(),
            "a risk refusal could not be audited"
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_latest_trade_is_priced_from_p() {
        assert_eq!(
            trade_price(r#"{"p":187.25,"s":100}"#),
            Some("187.25".parse().unwrap())
        );
        assert_eq!(trade_price(r#"{"p":"1.5"}"#), Some("1.5".parse().unwrap()));
        assert_eq!(trade_price(r#"{"p":0}"#), None);
        assert_eq!(trade_price(r#"{"s":1}"#), None);
    }
}
