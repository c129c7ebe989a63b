//! An order's type and the prices it needs: `limit_price`, `stop_price`, and a trailing
//! stop's `trail_price` or `trail_percent` (exactly one), each required by the types that use
//! it and refused by the others.

use rust_decimal::Decimal;

use super::values::{OrderKind, Positive, Trail};
use super::OrderDraft;
use crate::input::Problems;

const KINDS: [&str; 5] = ["market", "limit", "stop", "stop_limit", "trailing_stop"];

/// The type `draft` names with exactly its prices, or the problems.
pub(super) fn parse_kind(p: &mut Problems, draft: &OrderDraft) -> Option<OrderKind> {
    let Some(kind) = draft.order_type.as_deref() else {
        p.add("type", "is required");
        return None;
    };
    if !KINDS.contains(&kind) {
        p.add(
            "type",
            "must be one of market, limit, stop, stop_limit, trailing_stop",
        );
        return None;
    }
    let needs_limit = matches!(kind, "limit" | "stop_limit");
    let needs_stop = matches!(kind, "stop" | "stop_limit");
    let limit = draft.limit_price.map(Positive::parse);
    let stop = draft.stop_price.map(Positive::parse);
    let limit_price = price(p, "limit_price", limit, needs_limit, kind);
    let stop_price = price(p, "stop_price", stop, needs_stop, kind);
    let trail = trail(p, draft, kind == "trailing_stop");
    match (kind, limit_price, stop_price, trail) {
        ("market", _, _, _) => Some(OrderKind::Market),
        ("limit", Some(limit_price), _, _) => Some(OrderKind::Limit { limit_price }),
        ("stop", _, Some(stop_price), _) => Some(OrderKind::Stop { stop_price }),
        ("stop_limit", Some(limit_price), Some(stop_price), _) => Some(OrderKind::StopLimit {
            stop_price,
            limit_price,
        }),
        ("trailing_stop", _, _, Some(trail)) => Some(OrderKind::TrailingStop { trail }),
        _ => None,
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

/// A trailing stop's trail: `trail_price` or `trail_percent`, exactly one (and neither for
/// other types).
fn trail(p: &mut Problems, draft: &OrderDraft, needed: bool) -> Option<Trail> {
    match (draft.trail_price, draft.trail_percent, needed) {
        (None, None, false) => None,
        (Some(_), _, false) => {
            p.add("trail_price", "is only for trailing_stop orders");
            None
        }
        (None, Some(_), false) => {
            p.add("trail_percent", "is only for trailing_stop orders");
            None
        }
        (Some(_), Some(_), true) => {
            p.add(
                "trail_percent",
                "give trail_price or trail_percent, not both",
            );
            None
        }
        (None, None, true) => {
            p.add(
                "trail_price",
                "trail_price or trail_percent is required for trailing_stop orders",
            );
            None
        }
        (Some(amount), None, true) => p
            .take("trail_price", Positive::parse(amount))
            .map(Trail::Price),
        (None, Some(percent), true) => p
            .take("trail_percent", parse_percent(percent))
            .map(Trail::Percent),
    }
}

/// A trail percent: above zero and below 100.
fn parse_percent(value: Decimal) -> Result<Positive, String> {
    let percent = Positive::parse(value)?;
    if percent.get() >= Decimal::ONE_HUNDRED {
        return Err("must be less than 100".into());
    }
    Ok(percent)
}
