//! Orders in Raptor's own words, parsed once and valid by construction.
//!
//! A client's body becomes an [`OrderDraft`], then a [`Submission`] (an [`OrderRequest`] and
//! an optional [`IdempotencyKey`]); every rule is checked there and all broken rules are
//! reported together, field by field. After that no code re-checks: a market order cannot carry
//! a limit price, a quantity cannot be zero or beyond [`MAX_AMOUNT`], a symbol cannot hold a
//! space. Amounts are [`Decimal`]s from the client's text to Alpaca's, never floats. The broker
//! gets its own [`OrderTicket`], built here by [`OrderRequest::ticket`].

use rust_decimal::Decimal;
use serde::Deserialize;

use super::ids::IdempotencyKey;
use crate::input::{FieldProblem, InvalidInput, Problems};

pub mod class;
mod describe;
mod kind;
mod values;
pub use class::{OrderClass, OtoExit, StopLoss, StopLossDraft, TakeProfit, TakeProfitDraft};
pub use values::{
    OrderKind, OrderSize, Positive, Side, Symbol, TimeInForce, Trail, MAX_AMOUNT,
    MAX_DECIMAL_PLACES,
};

/// An order as a client asked for it (the body of `POST /api/trading/orders`), before any rule
/// is checked. Amounts may be JSON strings or numbers; unknown fields are refused so a typo
/// cannot pass silently.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct OrderDraft {
    pub symbol: Option<String>,
    pub qty: Option<Decimal>,
    pub notional: Option<Decimal>,
    pub side: Option<String>,
    #[serde(rename = "type")]
    pub order_type: Option<String>,
    pub time_in_force: Option<String>,
    pub limit_price: Option<Decimal>,
    pub stop_price: Option<Decimal>,
    pub trail_price: Option<Decimal>,
    pub trail_percent: Option<Decimal>,
    pub extended_hours: Option<bool>,
    pub order_class: Option<String>,
    pub take_profit: Option<TakeProfitDraft>,
    pub stop_loss: Option<StopLossDraft>,
    /// The client's own idempotency key, when it sends no `Idempotency-Key` header.
    pub client_order_id: Option<String>,
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
    /// `simple`, or the class and its exit legs.
    pub class: OrderClass,
}

fn required<T>(value: Option<T>) -> Result<T, String> {
    value.ok_or_else(|| "is required".to_owned())
}

impl TryFrom<OrderDraft> for OrderRequest {
    type Error = InvalidInput;

    /// Checks every rule but the idempotency key (see [`Submission::parse`]).
    fn try_from(mut draft: OrderDraft) -> Result<Self, InvalidInput> {
        let mut p = Problems::default();
        let symbol = p.take(
            "symbol",
            required(draft.symbol.take()).and_then(|s| Symbol::parse(&s)),
        );
        let size = size(&mut p, draft.qty, draft.notional);
        let side = p.take(
            "side",
            required(draft.side.take()).and_then(|s| Side::parse(&s)),
        );
        let time_in_force = p.take(
            "time_in_force",
            required(draft.time_in_force.take()).and_then(|s| TimeInForce::parse(&s)),
        );
        let class = class::parse_class(
            &mut p,
            draft.order_class.as_deref(),
            draft.take_profit.as_ref(),
            draft.stop_loss.as_ref(),
        );
        if draft.order_class.as_deref() == Some("oco") && draft.limit_price.is_none() {
            // An oco's limit price is its take-profit's; Alpaca's own requests leave it out.
            draft.limit_price = draft.take_profit.as_ref().and_then(|t| t.limit_price);
        }
        let kind = kind::parse_kind(&mut p, &draft);
        let order = (|| {
            Some(OrderRequest {
                symbol: symbol?,
                size: size?,
                side: side?,
                kind: kind?,
                time_in_force: time_in_force?,
                extended_hours: draft.extended_hours.unwrap_or(false),
                class: class?,
            })
        })();
        if let Some(order) = &order {
            for (field, problem) in cross_problems(order) {
                p.add(field, problem);
            }
        }
        p.finish(|| order)
    }
}

/// `qty` or `notional`, exactly one.
fn size(p: &mut Problems, qty: Option<Decimal>, notional: Option<Decimal>) -> Option<OrderSize> {
    match (qty, notional) {
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
    }
}

/// The rules between fields of an order whose fields each parsed: a trailing stop's time in
/// force, and its class's rules ([`class::class_problems`]).
fn cross_problems(order: &OrderRequest) -> Vec<(&'static str, String)> {
    let mut problems = class::class_problems(order);
    let day_or_gtc = matches!(order.time_in_force, TimeInForce::Day | TimeInForce::Gtc);
    if order.kind.trail().is_some() && !day_or_gtc {
        problems.push((
            "time_in_force",
            "must be day or gtc for trailing_stop orders".to_owned(),
        ));
    }
    problems
}

/// A valid submission: the order and, if the client gave one, its idempotency key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Submission {
    pub order: OrderRequest,
    pub key: Option<IdempotencyKey>,
}

impl Submission {
    /// `header_key` is the `Idempotency-Key` header as text, if sent; without it the body's
    /// `client_order_id` is the key. Every problem, the key's included, is reported at once.
    pub fn parse(header_key: Option<&str>, mut draft: OrderDraft) -> Result<Self, InvalidInput> {
        let mut problems = Vec::new();
        let body_key = draft.client_order_id.take();
        let key = match (header_key, body_key) {
            (Some(raw), _) => IdempotencyKey::parse(raw)
                .map_err(|problem| problems.push(field("Idempotency-Key", problem)))
                .ok(),
            (None, Some(raw)) => IdempotencyKey::parse(&raw)
                .map_err(|problem| problems.push(field("client_order_id", problem)))
                .ok(),
            (None, None) => None,
        };
        match OrderRequest::try_from(draft) {
            Ok(order) if problems.is_empty() => Ok(Self { order, key }),
            Ok(_) => Err(InvalidInput { problems }),
            Err(mut invalid) => {
                invalid.problems.extend(problems);
                Err(invalid)
            }
        }
    }
}

fn field(field: &'static str, problem: String) -> FieldProblem {
    FieldProblem { field, problem }
}

#[cfg(test)]
mod class_proptests;
#[cfg(test)]
mod mutation_tests;
#[cfg(test)]
mod proptests;
#[cfg(test)]
mod tests;
