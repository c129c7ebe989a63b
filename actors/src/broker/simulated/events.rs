//! The simulated broker's `trade_updates`: the same data objects Alpaca's stream sends
//! (`{"event":"fill","order":{...},"timestamp":...,"price":...,"qty":...}`), so `raptor dev`
//! streams order events offline. One feed per process, read by the trade-stream actor; with
//! nobody listening an event is simply dropped.

use std::sync::LazyLock;

use chrono::{DateTime, Utc};
use rust_decimal::Decimal;
use serde_json::json;
use tokio::sync::broadcast;

use super::json::{order_json, timestamp};
use super::SimOrder;

static FEED: LazyLock<broadcast::Sender<String>> = LazyLock::new(|| broadcast::channel(1_024).0);

/// Listens to the simulated broker's events (a `trade_updates` data object each).
pub fn simulated_events() -> broadcast::Receiver<String> {
    FEED.subscribe()
}

/// Emits `event` for `order` as it now stands; `fill` carries the fill's price and quantity.
pub(super) fn emit(
    event: &str,
    order: &SimOrder,
    fill: Option<(Decimal, Decimal)>,
    now: DateTime<Utc>,
) {
    let mut data = json!({
        "event": event,
        "order": order_json(order),
        "timestamp": timestamp(now),
    });
    if let Some((price, qty)) = fill {
        data["price"] = json!(price.to_string());
        data["qty"] = json!(qty.to_string());
        data["position_qty"] = json!(qty.to_string());
    }
    let _ = FEED.send(data.to_string());
}
