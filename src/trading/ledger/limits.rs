//! The claim of a new ledger row under the per-user count limits, atomically: one short
//! transaction takes the user's advisory lock (`pg_advisory_xact_lock`), counts the user's open
//! orders and today's orders, and inserts the row only within the limits. Two submissions of
//! one user serialize on the lock, so they cannot both pass a limit; different users do not
//! wait on each other. The transaction awaits nothing but its own statements.

use chrono::{DateTime, Utc};
use deadpool_postgres::Client;

use super::NewOrder;
use crate::trading::ids::IdempotencyKey;
use crate::trading::risk::{Limit, Refusal};

/// The SQL condition of an open order: its submission is unsettled, or it was accepted and its
/// Alpaca status (from the stream) is not a closed one. `unknown_before_stream` marks orders
/// accepted before migration V11, never counted.
pub const OPEN_ORDER: &str = "(status IN ('submitting', 'pending') OR (status = 'accepted' \
     AND COALESCE(order_status, 'new') NOT IN ('filled', 'canceled', 'expired', 'rejected', \
     'replaced', 'unknown_before_stream')))";

/// The per-user count limits.
#[derive(Debug, Clone, Copy)]
pub struct Caps {
    pub max_open: u32,
    pub max_per_day: u32,
}

/// What a claim within the limits did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Claimed {
    /// The row is new and claimed.
    Inserted,
    /// A row with this client order id exists already (a replay, not a new order).
    Exists,
    /// A limit would be broken; nothing was inserted.
    Refused(Refusal),
}

/// Inserts `new` as `submitting` if the user is within `caps`.
pub async fn claim_within(
    client: &mut Client,
    new: NewOrder<'_>,
    caps: Caps,
) -> Result<Claimed, tokio_postgres::Error> {
    let tx = client.transaction().await?;
    tx.execute(
        "SELECT pg_advisory_xact_lock(hashtextextended('raptor.orders.' || $1::uuid::text, 0))",
        &[&new.user_id],
    )
    .await?;
    let exists = tx
        .query_opt(
            "SELECT 1 FROM orders WHERE client_order_id = $1",
            &[&new.client_order_id.as_str()],
        )
        .await?
        .is_some();
    if exists {
        return Ok(Claimed::Exists);
    }
    let day_start = day_start(new.now);
    let counts = tx
        .query_one(
            &format!(
                "SELECT count(*) FILTER (WHERE {OPEN_ORDER}), \
                 count(*) FILTER (WHERE created_at >= $2) FROM orders WHERE user_id = $1"
            ),
            &[&new.user_id, &day_start],
        )
        .await?;
    let (open, today): (i64, i64) = (counts.get(0), counts.get(1));
    if open >= i64::from(caps.max_open) {
        return Ok(Claimed::Refused(Refusal::count(
            Limit::OpenOrders,
            caps.max_open,
        )));
    }
    if today >= i64::from(caps.max_per_day) {
        return Ok(Claimed::Refused(Refusal::count(
            Limit::DailyOrders,
            caps.max_per_day,
        )));
    }
    let inserted = tx
        .execute(
            "INSERT INTO orders (id, user_id, idempotency_key, client_order_id, symbol, side, \
             request, status, claim_id, claimed_at, created_at, updated_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, 'submitting', $8, $9, $9, $9) \
             ON CONFLICT DO NOTHING",
            &[
                &new.id,
                &new.user_id,
                &new.key.map(IdempotencyKey::as_str),
                &new.client_order_id.as_str(),
                &new.order.symbol.as_str(),
                &new.order.side.as_str(),
                &new.order.canonical_json(),
                &new.claim_id,
                &new.now,
            ],
        )
        .await?;
    tx.commit().await?;
    Ok(if inserted == 1 {
        Claimed::Inserted
    } else {
        Claimed::Exists
    })
}

/// Midnight UTC of `now`'s day: the daily limit's window.
fn day_start(now: DateTime<Utc>) -> DateTime<Utc> {
    now.date_naive()
        .and_hms_opt(0, 0, 0)
        .map(|t| t.and_utc())
        .unwrap_or(now)
}
