//! The exit legs of a bracket, oco or oto order (issue 26). Alpaca answers such an order with
//! `legs`, order objects of their own; each is recorded as an order of the parent's owner
//! (`parent_id` links it), so the trade-update stream finds its owner by its client order id,
//! its fills go to the owner's book, and it is listed with its parent. A leg reserves nothing of
//! its own (`reserve_price` is NULL): while its parent is open, the parent's reservation is the
//! whole order's; once a bracket's or oto's entry has filled, its open exits hold back the
//! position once (`book::repo::reserved`).

use std::collections::HashMap;

use chrono::{DateTime, Utc};
use deadpool_postgres::GenericClient;
use rust_decimal::Decimal;
use serde_json::{json, Value};
use uuid::Uuid;

/// Records the `legs` of the parent's broker `body` (ledger row `parent`) as orders of the
/// parent's owner; a leg recorded before is left as it is. How many were new.
/// Whether the order object `body` carries legs (a quick look: most updates carry none, and
/// need no query).
pub fn carried(body: &str) -> bool {
    #[derive(serde::Deserialize)]
    struct Legs {
        legs: Option<Vec<serde::de::IgnoredAny>>,
    }
    serde_json::from_str::<Legs>(body).is_ok_and(|o| o.legs.is_some_and(|l| !l.is_empty()))
}

pub async fn record(
    client: &impl GenericClient,
    parent: Uuid,
    body: &str,
    now: DateTime<Utc>,
) -> Result<u64, tokio_postgres::Error> {
    let Ok(order) = serde_json::from_str::<Value>(body) else {
        return Ok(0);
    };
    let Some(legs) = order["legs"].as_array() else {
        return Ok(0);
    };
    let mut recorded = 0;
    for (n, leg) in legs.iter().enumerate() {
        // Listed in Alpaca's order: each leg a microsecond after the one before.
        let created_at = now + chrono::Duration::microseconds(n as i64);
        let text = |field: &str| leg[field].as_str().map(str::to_owned);
        let (Some(id), Some(client_order_id), Some(symbol), Some(side)) = (
            text("id"),
            text("client_order_id"),
            text("symbol"),
            text("side"),
        ) else {
            tracing::warn!(%parent, "an order leg without ids was not recorded");
            continue;
        };
        let qty: Option<Decimal> = text("qty").and_then(|q| q.parse().ok());
        // Not an order a client could send (`leg_of`): a leg is replaced through Alpaca only
        // with its parent's class, so a replacement here refuses it.
        let request = json!({"leg_of": order["id"], "symbol": symbol, "side": side,
            "type": leg["type"], "qty": leg["qty"], "order_class": leg["order_class"]});
        recorded += client
            .execute(
                "INSERT INTO orders (id, user_id, client_order_id, alpaca_order_id, symbol, \
                 side, request, status, broker_status, broker_body, order_status, created_at, \
                 updated_at, qty, parent_id) \
                 SELECT $1, user_id, $2, $3, $4, $5, $6, 'accepted', 200, $7, $8, $9, $9, $10, \
                 id FROM orders WHERE id = $11 AND user_id IS NOT NULL \
                 ON CONFLICT DO NOTHING",
                &[
                    &Uuid::new_v4(),
                    &client_order_id,
                    &id,
                    &symbol,
                    &side,
                    &request.to_string(),
                    &leg.to_string(),
                    &text("status"),
                    &created_at,
                    &qty,
                    &parent,
                ],
            )
            .await?;
    }
    Ok(recorded)
}

/// The newest Alpaca object of each leg of the orders `parents`, by parent, oldest leg first.
pub async fn of(
    client: &impl GenericClient,
    parents: &[Uuid],
) -> Result<HashMap<Uuid, Vec<Value>>, tokio_postgres::Error> {
    let mut legs: HashMap<Uuid, Vec<Value>> = HashMap::new();
    if parents.is_empty() {
        return Ok(legs);
    }
    let rows = client
        .query(
            "SELECT parent_id, COALESCE(order_body, broker_body) FROM orders \
             WHERE parent_id = ANY($1) ORDER BY created_at, id",
            &[&parents],
        )
        .await?;
    for row in rows {
        let body: Option<String> = row.get(1);
        if let Some(leg) = body.and_then(|b| serde_json::from_str(&b).ok()) {
            legs.entry(row.get(0)).or_default().push(leg);
        }
    }
    Ok(legs)
}

/// `body` (an order object's text) with `legs` as its legs, when it has any recorded.
pub fn nest(body: String, legs: Option<Vec<Value>>) -> String {
    let Some(legs) = legs else {
        return body;
    };
    match serde_json::from_str::<Value>(&body) {
        Ok(mut order) if order.is_object() => {
            order["legs"] = Value::Array(legs);
            order.to_string()
        }
        _ => body,
    }
}
