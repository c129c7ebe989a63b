//! The order ledger (`orders`): which user placed which order, under which idempotency key, and
//! what the broker answered, exactly as received. The only code that knows its SQL.
//!
//! Every function here is one short statement: no caller holds a row lock, a transaction or a
//! connection while it talks to the broker or the audit writer. A submission *claims* its row
//! ([`claim_new`], [`take_over`]) under a fresh claim id, and only the holder of the current
//! claim records the outcome ([`record`]) or gives the claim back ([`release`]).

pub mod events;
pub mod legs;
pub mod limits;
pub mod listing;
pub mod open;

use chrono::{DateTime, Utc};
use deadpool_postgres::GenericClient;
use uuid::Uuid;

use super::ids::{ClientOrderId, IdempotencyKey};
use super::order::OrderRequest;
use super::risk::Estimate;

/// Where a submission stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LedgerStatus {
    /// Claimed by a submission that is talking to the broker (since `claimed_at`).
    Submitting {
        claim_id: Uuid,
        claimed_at: DateTime<Utc>,
    },
    /// Unclaimed, outcome unknown (the answer was lost) or never sent: settled by asking the
    /// broker for the client order id before anything is sent again.
    Pending,
    Accepted,
    Rejected,
    Canceled,
}

impl LedgerStatus {
    fn from_row(status: &str, claim_id: Option<Uuid>, claimed_at: Option<DateTime<Utc>>) -> Self {
        match (status, claim_id, claimed_at) {
            ("submitting", Some(claim_id), Some(claimed_at)) => Self::Submitting {
                claim_id,
                claimed_at,
            },
            ("accepted", _, _) => Self::Accepted,
            ("rejected", _, _) => Self::Rejected,
            ("canceled", _, _) => Self::Canceled,
            _ => Self::Pending,
        }
    }
}

/// How a submission ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    Accepted,
    Rejected,
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
    pub id: Uuid,
    pub user_id: Uuid,
    pub key: Option<&'a IdempotencyKey>,
    pub client_order_id: &'a ClientOrderId,
    pub order: &'a OrderRequest,
    pub claim_id: Uuid,
    pub now: DateTime<Utc>,
    /// How the pre-trade checks priced it: what it reserves in the book.
    pub estimate: &'a Estimate,
    /// The row of the order this one replaces, if it is a replacement.
    pub replaces: Option<Uuid>,
}

/// `user_id`'s submission under `client_order_id`, as it stands.
pub async fn find(
    client: &impl GenericClient,
    user_id: Uuid,
    client_order_id: &ClientOrderId,
) -> Result<Option<LedgerOrder>, tokio_postgres::Error> {
    let row = client
        .query_opt(
            "SELECT id, request, status, broker_status, broker_body, claim_id, claimed_at \
             FROM orders WHERE client_order_id = $1 AND user_id = $2",
            &[&client_order_id.as_str(), &user_id],
        )
        .await?;
    Ok(row.map(|r| LedgerOrder {
        id: r.get(0),
        request: r.get(1),
        status: LedgerStatus::from_row(r.get(2), r.get(5), r.get(6)),
        broker_status: r.get(3),
        broker_body: r.get(4),
    }))
}

/// Claims an unsettled row under `claim_id`, if it still stands as `seen` (`Pending`, or a
/// `Submitting` claim the caller judged stale); `false` when someone else moved first.
pub async fn take_over(
    client: &impl GenericClient,
    id: Uuid,
    seen: LedgerStatus,
    claim_id: Uuid,
    now: DateTime<Utc>,
) -> Result<bool, tokio_postgres::Error> {
    let updated = match seen {
        LedgerStatus::Pending => {
            client
                .execute(
                    "UPDATE orders SET status = 'submitting', claim_id = $2, claimed_at = $3, \
                     updated_at = $3 WHERE id = $1 AND status = 'pending'",
                    &[&id, &claim_id, &now],
                )
                .await?
        }
        LedgerStatus::Submitting { claim_id: old, .. } => {
            client
                .execute(
                    "UPDATE orders SET claim_id = $2, claimed_at = $3, updated_at = $3 \
                     WHERE id = $1 AND status = 'submitting' AND claim_id = $4",
                    &[&id, &claim_id, &now, &old],
                )
                .await?
        }
        _ => 0,
    };
    Ok(updated == 1)
}

/// Records the broker's answer under `claim_id`: `Accepted` with the broker's order id (and the
/// order's legs, [`legs::record`]), or `Rejected`; `false` when the claim was no longer ours
/// (the row was settled elsewhere).
#[allow(clippy::too_many_arguments)]
pub async fn record(
    client: &impl GenericClient,
    id: Uuid,
    claim_id: Uuid,
    outcome: Outcome,
    alpaca_order_id: Option<&str>,
    broker_status: u16,
    broker_body: &str,
    now: DateTime<Utc>,
) -> Result<bool, tokio_postgres::Error> {
    let status = match outcome {
        Outcome::Accepted => "accepted",
        Outcome::Rejected => "rejected",
    };
    let updated = client
        .execute(
            "UPDATE orders SET status = $3, alpaca_order_id = COALESCE($4, alpaca_order_id), \
             broker_status = $5, broker_body = $6, claim_id = NULL, updated_at = $7 \
             WHERE id = $1 AND status = 'submitting' AND claim_id = $2",
            &[
                &id,
                &claim_id,
                &status,
                &alpaca_order_id,
                &i32::from(broker_status),
                &broker_body,
                &now,
            ],
        )
        .await?;
    if updated == 1 && outcome == Outcome::Accepted {
        legs::record(client, id, broker_body, now).await?;
    }
    Ok(updated == 1)
}

/// Gives a claim back without an outcome (never sent, or the answer was lost): the row is
/// `pending` and the next attempt asks the broker first.
pub async fn release(
    client: &impl GenericClient,
    id: Uuid,
    claim_id: Uuid,
    now: DateTime<Utc>,
) -> Result<(), tokio_postgres::Error> {
    client
        .execute(
            "UPDATE orders SET status = 'pending', claim_id = NULL, updated_at = $3 \
             WHERE id = $1 AND status = 'submitting' AND claim_id = $2",
            &[&id, &claim_id, &now],
        )
        .await?;
    Ok(())
}

/// The broker ids of `user_id`'s own open orders that reached the broker, oldest first.
pub async fn open_order_ids(
    client: &impl GenericClient,
    user_id: Uuid,
) -> Result<Vec<String>, tokio_postgres::Error> {
    let sql = format!(
        "SELECT alpaca_order_id FROM orders WHERE user_id = $1 AND alpaca_order_id IS NOT NULL \
         AND {} ORDER BY created_at, id",
        open::OPEN_ORDER
    );
    let rows = client.query(&sql, &[&user_id]).await?;
    Ok(rows.iter().map(|r| r.get(0)).collect())
}

/// `user_id`'s accepted order `alpaca_order_id`: its row id, its request, and whether it is open.
pub async fn own_order(
    client: &impl GenericClient,
    user_id: Uuid,
    alpaca_order_id: &str,
) -> Result<Option<(Uuid, String, bool)>, tokio_postgres::Error> {
    let sql = format!(
        "SELECT id, request, {} FROM orders WHERE user_id = $1 AND alpaca_order_id = $2 \
         AND status IN ('accepted', 'canceled')",
        open::OPEN_ORDER
    );
    let row = client
        .query_opt(&sql, &[&user_id, &alpaca_order_id])
        .await?;
    Ok(row.map(|r| (r.get(0), r.get(1), r.get(2))))
}

/// Undoes a replacement's claim the broker never took (refused, or not sent): the replacement's
/// row, if not settled, is removed (`remove`) or left as recorded, and the old order is open again.
pub async fn unlink_replacement(
    client: &impl GenericClient,
    old: Uuid,
    new: Uuid,
    remove: bool,
) -> Result<(), tokio_postgres::Error> {
    if remove {
        client
            .execute(
                "DELETE FROM orders WHERE id = $1 AND status = 'submitting'",
                &[&new],
            )
            .await?;
    }
    client
        .execute(
            "UPDATE orders SET replaced_by = NULL WHERE id = $1 AND replaced_by = $2",
            &[&old, &new],
        )
        .await?;
    Ok(())
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

/// Takes `user_id`'s order lock for the rest of the transaction: claims, fills, adjustments and
/// the pre-trade checks of one user serialize on it; different users never wait on each other.
pub async fn lock_user(
    client: &impl GenericClient,
    user_id: Uuid,
) -> Result<(), tokio_postgres::Error> {
    client
        .execute(
            "SELECT pg_advisory_xact_lock(hashtextextended('raptor.orders.' || $1::uuid::text, 0))",
            &[&user_id],
        )
        .await?;
    Ok(())
}

/// The ledger row (id and owner) of the order with `client_order_id` or `alpaca_order_id`.
pub async fn owner_by_ids(
    client: &impl GenericClient,
    client_order_id: Option<&str>,
    alpaca_order_id: &str,
) -> Result<Option<(Uuid, Uuid)>, tokio_postgres::Error> {
    let row = client
        .query_opt(
            "SELECT id, user_id FROM orders WHERE user_id IS NOT NULL \
             AND (client_order_id = $1 OR alpaca_order_id = $2) LIMIT 1",
            &[&client_order_id, &alpaca_order_id],
        )
        .await?;
    Ok(row.map(|r| (r.get(0), r.get(1))))
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
