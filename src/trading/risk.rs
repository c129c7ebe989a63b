//! Pre-trade risk limits (docs/trading.md): every user trades on one shared paper account
//! (ADR 0049), so no user may exhaust it for the others. Checked before any broker call:
//!
//! - [`Limit::AssetClass`]: the symbol's asset class is in `TRADING_ASSET_CLASSES` (a symbol
//!   with `/` is a crypto pair, any other a US equity).
//! - [`Limit::OrderNotional`]: the order's notional is at most `TRADING_MAX_ORDER_NOTIONAL`. A
//!   `notional` order is its amount; a `qty` order is priced at its limit price (or stop price,
//!   the higher of the two for a stop-limit), else at the symbol's latest trade. With no price
//!   at all the order is refused ([`RiskError::NoPrice`], 503): a limit is never skipped.
//! - [`Limit::OpenOrders`] and [`Limit::DailyOrders`]: counted in the ledger under a per-user
//!   lock in the same transaction that claims the new row ([`super::ledger::limits`]), so
//!   concurrent submissions cannot pass a limit together.
//!
//! A refusal is audited (`order.submit.refused`) naming the limit; nothing is recorded or sent.

use raptor_actors::market_data::{LatestKind, MarketDataClient};
use rust_decimal::Decimal;
use serde_json::json;

use super::order::{OrderRequest, OrderSize};
use super::{Trader, Trading};
use crate::audit::AuditEvent;
use crate::settings::RiskSettings;

/// A risk limit an order would break.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Limit {
    AssetClass,
    OrderNotional,
    OpenOrders,
    DailyOrders,
}

impl Limit {
    /// The limit's name on the wire (`error.fields.limit`) and in the audit row.
    pub fn as_str(self) -> &'static str {
        match self {
            Limit::AssetClass => "asset_class",
            Limit::OrderNotional => "max_order_notional",
            Limit::OpenOrders => "max_open_orders",
            Limit::DailyOrders => "max_orders_per_day",
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
    /// A `qty` order without limit or stop price, and no latest trade for its symbol.
    #[error("no recent price for {symbol}: the order's notional cannot be checked")]
    NoPrice { symbol: String },
}

/// The asset class of `symbol`: `crypto` for a pair such as `BTC/USD`, else `us_equity`.
pub fn asset_class(symbol: &str) -> &'static str {
    if symbol.contains('/') {
        "crypto"
    } else {
        "us_equity"
    }
}

/// The checks that need no ledger: asset class and notional (pricing a `qty` order).
pub async fn check_order(
    limits: &RiskSettings,
    market_data: &MarketDataClient,
    order: &OrderRequest,
) -> Result<(), RiskError> {
    let class = asset_class(order.symbol.as_str());
    if !limits.asset_classes.iter().any(|c| c == class) {
        return Err(RiskError::Refused(Refusal::new(
            Limit::AssetClass,
            format!(
                "risk limit asset_class: {class} is not tradable here (allowed: {})",
                limits.asset_classes.join(", ")
            ),
        )));
    }
    let Some(max) = limits.max_order_notional else {
        return Ok(());
    };
    let notional = match order.size {
        OrderSize::Notional(amount) => amount.get(),
        OrderSize::Qty(qty) => qty.get() * price(market_data, order).await?,
    };
    if notional > max {
        return Err(RiskError::Refused(Refusal::new(
            Limit::OrderNotional,
            format!(
                "risk limit max_order_notional: this order is about {} USD, above {max} USD",
                notional.round_dp(2)
            ),
        )));
    }
    Ok(())
}

/// The price a `qty` order is checked at.
async fn price(market_data: &MarketDataClient, order: &OrderRequest) -> Result<Decimal, RiskError> {
    let stated = [order.kind.limit_price(), order.kind.stop_price()]
        .into_iter()
        .flatten()
        .map(|p| p.get())
        .max();
    if let Some(price) = stated {
        return Ok(price);
    }
    let symbol = order.symbol.as_str().to_owned();
    let no_price = || RiskError::NoPrice {
        symbol: symbol.clone(),
    };
    let latest = match market_data
        .latest(LatestKind::Trades, std::slice::from_ref(&symbol))
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
fn trade_price(raw: &str) -> Option<Decimal> {
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
    fn a_pair_is_crypto_and_a_ticker_an_equity() {
        assert_eq!(asset_class("BTC/USD"), "crypto");
        assert_eq!(asset_class("BRK.B"), "us_equity");
    }

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
