//! What the trade-updates stream changes in the ledger: each event records its order's own
//! Alpaca status (`order_status`), so the open-orders limit and the order list are right
//! without polling Alpaca; an event for a row still `submitting` or `pending` (a crash between
//! claiming the row and recording the broker's answer) settles it as `accepted` with the order
//! object as its body. One short statement each; events older than the last applied one for a
//! row are ignored.

use chrono::{DateTime, Utc};
use deadpool_postgres::GenericClient;
use uuid::Uuid;

use super::open::OPEN_ORDER;

/// One order event as the ledger needs it.
#[derive(Debug, Clone, Copy)]
pub struct OrderEvent<'a> {
    pub client_order_id: &'a str,
    pub alpaca_order_id: Option<&'a str>,
    /// The order's Alpaca status after the event (`filled`, `canceled`, ...).
    pub order_status: &'a str,
    /// The order object as received.
    pub order_body: &'a str,
    pub at: DateTime<Utc>,
}

/// A ledger row the event would settle: its id and owner.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Unsettled {
    pub id: Uuid,
    pub user_id: Option<Uuid>,
}

/// Who placed the order `client_order_id`: `None` when it is not in the ledger (not placed
/// through Raptor, or its user was erased).
pub async fn owner_of(
    client: &impl GenericClient,
    client_order_id: &str,
) -> Result<Option<Uuid>, tokio_postgres::Error> {
    let row = client
        .query_opt(
            "SELECT user_id FROM orders WHERE client_order_id = $1",
            &[&client_order_id],
        )
        .await?;
    Ok(row.and_then(|r| r.get(0)))
}

/// The ledger row of the order `client_order_id`, if it is in the ledger.
pub async fn row_of(
    client: &impl GenericClient,
    client_order_id: &str,
) -> Result<Option<Uuid>, tokio_postgres::Error> {
    let row = client
        .query_opt(
            "SELECT id FROM orders WHERE client_order_id = $1",
            &[&client_order_id],
        )
        .await?;
    Ok(row.map(|r| r.get(0)))
}

/// The SQL condition of a row an event settles: `pending`, or `submitting` under a claim taken
/// before `$7` (its holder is presumed gone; a live holder records its own outcome).
const SETTLES: &str = "(status = 'pending' OR (status = 'submitting' AND claimed_at < $7))";

/// The row `client_order_id` if an event would settle it (see [`apply`]).
pub async fn unsettled(
    client: &impl GenericClient,
    client_order_id: &str,
    claimed_before: DateTime<Utc>,
) -> Result<Option<Unsettled>, tokio_postgres::Error> {
    let row = client
        .query_opt(
            "SELECT id, user_id FROM orders WHERE client_order_id = $1 \
             AND (status = 'pending' OR (status = 'submitting' AND claimed_at < $2))",
            &[&client_order_id, &claimed_before],
        )
        .await?;
    Ok(row.map(|r| Unsettled {
        id: r.get(0),
        user_id: r.get(1),
    }))
}

/// Applies `event` to its row, settling it when it is `pending` or claimed before
/// `claimed_before`; `false` when no row took it (unknown order, or an older event).
pub async fn apply(
    client: &impl GenericClient,
    event: OrderEvent<'_>,
    claimed_before: DateTime<Utc>,
    now: DateTime<Utc>,
) -> Result<bool, tokio_postgres::Error> {
    let sql = format!(
        "UPDATE orders SET \
           order_status = $2, order_event_at = $3, order_body = $5, \
           alpaca_order_id = COALESCE(alpaca_order_id, $4), \
           broker_status = CASE WHEN {SETTLES} THEN 200 ELSE broker_status END, \
           broker_body = CASE WHEN {SETTLES} THEN $5 ELSE broker_body END, \
           claim_id = CASE WHEN {SETTLES} THEN NULL ELSE claim_id END, \
           status = CASE WHEN {SETTLES} THEN 'accepted' \
             WHEN status = 'accepted' AND $2 = 'canceled' THEN 'canceled' \
             ELSE status END, \
           updated_at = $6 \
         WHERE client_order_id = $1 AND status <> 'rejected' \
           AND (order_event_at IS NULL OR order_event_at <= $3)"
    );
    let updated = client
        .execute(
            &sql,
            &[
                &event.client_order_id,
                &event.order_status,
                &event.at,
                &event.alpaca_order_id,
                &event.order_body,
                &now,
                &claimed_before,
            ],
        )
        .await?;
    Ok(updated == 1)
}

/// Whether any order in the ledger is open: the stream stays connected to follow it.
pub async fn any_open(client: &impl GenericClient) -> Result<bool, tokio_postgres::Error> {
    let row = client
        .query_one(
            &format!("SELECT EXISTS (SELECT 1 FROM orders WHERE {OPEN_ORDER})"),
            &[],
        )
        .await?;
    Ok(row.get(0))
}
