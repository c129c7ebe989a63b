//! The order ledger (`orders`): which user placed which order, under which idempotency key, and
//! what the broker answered, exactly as received. The only code that knows its SQL.
//!
//! A submission is a row first (`pending`), inserted outside any long transaction so the
//! `UNIQUE` constraints settle a race between identical submissions at once. Whoever then
//! holds the row's lock (`SELECT … FOR UPDATE`, see [`lock`]) talks to the broker; the other
//! waits and finds the outcome recorded.

use std::collections::HashSet;

use chrono::{DateTime, Utc};
use deadpool_postgres::GenericClient;
use raptor_actors::broker::order::{ClientOrderId, IdempotencyKey, OrderRequest};
use uuid::Uuid;

/// How many of a user's orders are considered when their order list is filtered.
const MAX_LISTED: i64 = 5_000;

/// Where a submission stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LedgerStatus {
    /// The broker has not answered yet, or its answer was lost (timeout): the outcome is
    /// settled by asking the broker for the client order id before sending again.
    Pending,
    Accepted,
    Rejected,
    Canceled,
}

impl LedgerStatus {
    fn as_str(self) -> &'static str {
        match self {
            Self::Pending => "pending",
            Self::Accepted => "accepted",
            Self::Rejected => "rejected",
            Self::Canceled => "canceled",
        }
    }

    fn parse(raw: &str) -> Self {
        match raw {
            "accepted" => Self::Accepted,
            "rejected" => Self::Rejected,
            "canceled" => Self::Canceled,
            _ => Self::Pending,
        }
    }
}

/// A submission as recorded.
#[derive(Debug, Clone)]
pub struct LedgerOrder {
    pub id: Uuid,
    /// The canonical text of the request (`OrderRequest::canonical_json`).
    pub request: String,
    pub status: LedgerStatus,
    pub broker_status: Option<i32>,
    pub broker_body: Option<String>,
}

/// A submission about to be recorded.
pub struct NewOrder<'a> {
    pub user_id: Uuid,
    pub key: Option<&'a IdempotencyKey>,
    pub client_order_id: &'a ClientOrderId,
    pub order: &'a OrderRequest,
    pub now: DateTime<Utc>,
}

/// Records a pending submission; `false` when one with the same client order id (that is, the
/// same user and idempotency key) already exists.
pub async fn insert_pending(
    client: &impl GenericClient,
    new: NewOrder<'_>,
) -> Result<bool, tokio_postgres::Error> {
    let inserted = client
        .execute(
            "INSERT INTO orders (id, user_id, idempotency_key, client_order_id, symbol, side, \
             request, status, created_at, updated_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, 'pending', $8, $8) ON CONFLICT DO NOTHING",
            &[
                &Uuid::new_v4(),
                &new.user_id,
                &new.key.map(IdempotencyKey::as_str),
                &new.client_order_id.as_str(),
                &new.order.symbol.as_str(),
                &new.order.side.as_str(),
                &new.order.canonical_json(),
                &new.now,
            ],
        )
        .await?;
    Ok(inserted == 1)
}

/// Locks `user_id`'s submission under `client_order_id` until the transaction ends.
pub async fn lock(
    client: &impl GenericClient,
    user_id: Uuid,
    client_order_id: &ClientOrderId,
) -> Result<Option<LedgerOrder>, tokio_postgres::Error> {
    let row = client
        .query_opt(
            "SELECT id, request, status, broker_status, broker_body FROM orders \
             WHERE client_order_id = $1 AND user_id = $2 FOR UPDATE",
            &[&client_order_id.as_str(), &user_id],
        )
        .await?;
    Ok(row.map(|r| LedgerOrder {
        id: r.get(0),
        request: r.get(1),
        status: LedgerStatus::parse(r.get(2)),
        broker_status: r.get(3),
        broker_body: r.get(4),
    }))
}

/// Records the broker's answer: `Accepted` with the broker's order id, or `Rejected`.
pub async fn record(
    client: &impl GenericClient,
    id: Uuid,
    status: LedgerStatus,
    alpaca_order_id: Option<&str>,
    broker_status: u16,
    broker_body: &str,
    now: DateTime<Utc>,
) -> Result<(), tokio_postgres::Error> {
    client
        .execute(
            "UPDATE orders SET status = $2, alpaca_order_id = COALESCE($3, alpaca_order_id), \
             broker_status = $4, broker_body = $5, updated_at = $6 WHERE id = $1",
            &[
                &id,
                &status.as_str(),
                &alpaca_order_id,
                &i32::from(broker_status),
                &broker_body,
                &now,
            ],
        )
        .await?;
    Ok(())
}

/// The client order ids of `user_id`'s orders the broker accepted, newest first.
pub async fn client_order_ids(
    client: &impl GenericClient,
    user_id: Uuid,
) -> Result<HashSet<String>, tokio_postgres::Error> {
    let rows = client
        .query(
            "SELECT client_order_id FROM orders WHERE user_id = $1 \
             AND status IN ('accepted', 'canceled') ORDER BY created_at DESC LIMIT $2",
            &[&user_id, &MAX_LISTED],
        )
        .await?;
    Ok(rows.into_iter().map(|r| r.get(0)).collect())
}

/// Whether `user_id` placed the broker order `alpaca_order_id`.
pub async fn placed_by(
    client: &impl GenericClient,
    user_id: Uuid,
    alpaca_order_id: &str,
) -> Result<bool, tokio_postgres::Error> {
    let row = client
        .query_opt(
            "SELECT 1 FROM orders WHERE user_id = $1 AND alpaca_order_id = $2",
            &[&user_id, &alpaca_order_id],
        )
        .await?;
    Ok(row.is_some())
}

/// Marks the broker order `alpaca_order_id` cancelled.
pub async fn mark_canceled(
    client: &impl GenericClient,
    alpaca_order_id: &str,
    now: DateTime<Utc>,
) -> Result<(), tokio_postgres::Error> {
    client
        .execute(
            "UPDATE orders SET status = 'canceled', updated_at = $2 WHERE alpaca_order_id = $1",
            &[&alpaca_order_id, &now],
        )
        .await?;
    Ok(())
}
