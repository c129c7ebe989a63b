//! The simulated broker's answers in Alpaca's JSON shapes: orders, amounts of money, ratios,
//! timestamps and asset ids exactly as Alpaca formats them.

use chrono::{DateTime, SecondsFormat, Utc};
use rust_decimal::{Decimal, RoundingStrategy};
use serde_json::{json, Value};
use sha2::{Digest, Sha256};
use uuid::Uuid;

use super::SimOrder;
use crate::broker::ticket::TicketSize;
use crate::broker::types::{BrokerError, BrokerJson, PlacedOrder};

pub(super) fn refused(status: u16, message: &str) -> BrokerError {
    crate::broker::alpaca::refusal(
        status,
        &json!({ "code": 40310000, "message": message }).to_string(),
    )
}

pub(super) fn document(value: Value) -> BrokerJson {
    BrokerJson(value.to_string())
}

pub(super) fn placed(order: &SimOrder) -> PlacedOrder {
    PlacedOrder {
        order_id: Some(order.id.to_string()),
        body: document(order_json(order)),
    }
}

pub(super) fn order_json(o: &SimOrder) -> Value {
    let r = &o.request;
    let notional = match r.size {
        TicketSize::Notional(n) => Some(n.to_string()),
        TicketSize::Qty(_) => None,
    };
    // The simulator places an order's entry only: its class is shown, its legs are not placed.
    let (trail_price, trail_percent) = r.kind.trail_fields();
    json!({
        "id": o.id,
        "client_order_id": o.client_order_id,
        "created_at": timestamp(o.created_at),
        "updated_at": timestamp(o.updated_at),
        "submitted_at": timestamp(o.created_at),
        "filled_at": o.filled_at.map(timestamp),
        "expired_at": null,
        "canceled_at": o.canceled_at.map(timestamp),
        "failed_at": null,
        "replaced_at": null,
        "replaced_by": null,
        "replaces": null,
        "asset_id": asset_id(&r.symbol),
        "symbol": r.symbol,
        "asset_class": "us_equity",
        "notional": notional,
        "qty": o.qty.map(|q| q.to_string()),
        "filled_qty": o.filled_qty.normalize().to_string(),
        "filled_avg_price": o.filled_avg_price.map(money),
        "order_class": r.legs.map_or("simple", |l| l.class),
        "order_type": r.kind.as_str(),
        "type": r.kind.as_str(),
        "side": r.side.as_str(),
        "time_in_force": r.time_in_force,
        "limit_price": r.kind.limit_price().map(|p| p.to_string()),
        "stop_price": r.kind.stop_price().map(|p| p.to_string()),
        "status": o.status,
        "extended_hours": r.extended_hours,
        "legs": null,
        "trail_percent": trail_percent,
        "trail_price": trail_price,
        "hwm": null,
    })
}

pub(super) fn timestamp(t: DateTime<Utc>) -> String {
    t.to_rfc3339_opts(SecondsFormat::Micros, true)
}

/// Two decimal places, as Alpaca shows amounts of money.
pub(super) fn money(amount: Decimal) -> String {
    amount
        .round_dp_with_strategy(2, RoundingStrategy::MidpointNearestEven)
        .to_string()
}

pub(super) fn ratio(part: Decimal, whole: Decimal) -> String {
    if whole.is_zero() {
        "0".into()
    } else {
        (part / whole).round_dp(4).normalize().to_string()
    }
}

/// A stable asset id per symbol.
pub(super) fn asset_id(symbol: &str) -> Uuid {
    let digest = Sha256::digest(symbol.as_bytes());
    let mut bytes = [0u8; 16];
    bytes.copy_from_slice(&digest[..16]);
    uuid::Builder::from_random_bytes(bytes).into_uuid()
}
