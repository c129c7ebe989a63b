//! Orders in Raptor's own words, parsed once and valid by construction.
//!
//! A client's body becomes an [`OrderDraft`], then a [`Submission`] (an [`OrderRequest`] and
//! an optional [`IdempotencyKey`]); every rule is checked there and all broken rules are
//! reported together, field by field. After that no code re-checks: a market order cannot carry
//! a limit price, a quantity cannot be zero or beyond [`MAX_AMOUNT`], a symbol cannot hold a
//! space. Amounts are [`Decimal`]s from the client's text to Alpaca's, never floats. The broker
//! gets its own [`OrderTicket`], built here by [`OrderRequest::ticket`].

use raptor_actors::broker::{OrderTicket, TicketKind, TicketSide, TicketSize};
use rust_decimal::Decimal;
use serde::Deserialize;

use super::ids::IdempotencyKey;
use crate::input::{FieldProblem, InvalidInput, Problems};

mod values;
pub use values::{
    OrderKind, OrderSize, Positive, Side, Symbol, TimeInForce, MAX_AMOUNT, MAX_DECIMAL_PLACES,
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
    pub extended_hours: Option<bool>,
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
}

fn required<T>(value: Option<T>) -> Result<T, String> {
    value.ok_or_else(|| "is required".to_owned())
}

impl TryFrom<OrderDraft> for OrderRequest {
    type Error = InvalidInput;

    /// Checks every rule but the idempotency key (see [`Submission::parse`]).
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

impl OrderRequest {
    /// What the broker is sent.
    pub fn ticket(&self) -> OrderTicket {
        OrderTicket {
            symbol: self.symbol.as_str().to_owned(),
            size: match self.size {
                OrderSize::Qty(q) => TicketSize::Qty(q.get()),
                OrderSize::Notional(n) => TicketSize::Notional(n.get()),
            },
            side: match self.side {
                Side::Buy => TicketSide::Buy,
                Side::Sell => TicketSide::Sell,
            },
            kind: match self.kind {
                OrderKind::Market => TicketKind::Market,
                OrderKind::Limit { limit_price } => TicketKind::Limit {
                    limit_price: limit_price.get(),
                },
                OrderKind::Stop { stop_price } => TicketKind::Stop {
                    stop_price: stop_price.get(),
                },
                OrderKind::StopLimit {
                    stop_price,
                    limit_price,
                } => TicketKind::StopLimit {
                    stop_price: stop_price.get(),
                    limit_price: limit_price.get(),
                },
            },
            time_in_force: self.time_in_force.as_str(),
            extended_hours: self.extended_hours,
        }
    }

    /// The order as its audit rows describe it (amounts as the client wrote them).
    pub fn audit_details(&self) -> serde_json::Value {
        let (qty, notional) = match self.size {
            OrderSize::Qty(q) => (Some(q.to_string()), None),
            OrderSize::Notional(n) => (None, Some(n.to_string())),
        };
        serde_json::json!({
            "symbol": self.symbol.as_str(),
            "side": self.side.as_str(),
            "type": self.kind.as_str(),
            "time_in_force": self.time_in_force.as_str(),
            "qty": qty,
            "notional": notional,
            "limit_price": self.kind.limit_price().map(|p| p.to_string()),
            "stop_price": self.kind.stop_price().map(|p| p.to_string()),
        })
    }
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
mod mutation_tests;
#[cfg(test)]
mod proptests;
#[cfg(test)]
mod tests;
