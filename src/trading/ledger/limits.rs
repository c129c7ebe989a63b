//! The claim of a new ledger row under the per-user limits, atomically: one short transaction
//! takes the user's order lock ([`super::lock_user`]), counts the user's open orders and today's
//! orders, checks the order against the user's book (buying power for a buy, the position for
//! a sell, less what open orders reserve) and inserts the row, with what it reserves, only
//! within the limits. Two submissions of one user serialize on the lock, so they cannot both
//! pass a limit; a fill recorded meanwhile waits for the same lock. Different users do not wait
//! on each other. The transaction awaits nothing but its own statements.

use chrono::{DateTime, Utc};
use deadpool_postgres::{Client, GenericClient};
use uuid::Uuid;

use rust_decimal::Decimal;

use super::open::OPEN_ORDER;
use super::NewOrder;
use crate::trading::book::repo as books;
use crate::trading::ids::IdempotencyKey;
use crate::trading::order::{OrderSize, Side};
use crate::trading::risk::{Limit, Refusal};

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
    /// The order to replace is no longer open (or already being replaced); nothing changed.
    NotReplaceable,
}

/// Inserts `new` as `submitting` if the user is within `caps`.
pub async fn claim_within(
    client: &mut Client,
    new: NewOrder<'_>,
    caps: Caps,
) -> Result<Claimed, tokio_postgres::Error> {
    let tx = client.transaction().await?;
    super::lock_user(&tx, new.user_id).await?;
    if exists(&tx, &new).await? {
        return Ok(Claimed::Exists);
    }
    if let Some(old) = new.replaces {
        if !link_replacement(&tx, &new, old).await? {
            return Ok(Claimed::NotReplaceable);
        }
    }
    if let Some(refusal) = check_counts(&tx, &new, caps).await? {
        return Ok(Claimed::Refused(refusal));
    }
    if let Some(refusal) = check_book(&tx, &new).await? {
        return Ok(Claimed::Refused(refusal));
    }
    let inserted = insert(&tx, &new).await?;
    tx.commit().await?;
    Ok(if inserted {
        Claimed::Inserted
    } else {
        Claimed::Exists
    })
}

/// Whether a row with `new`'s client order id exists already.
async fn exists(
    tx: &impl GenericClient,
    new: &NewOrder<'_>,
) -> Result<bool, tokio_postgres::Error> {
    let found = tx
        .query_opt(
            "SELECT 1 FROM orders WHERE client_order_id = $1",
            &[&new.client_order_id.as_str()],
        )
        .await?;
    Ok(found.is_some())
}

/// From now on the replacement is the open order: the old one neither counts nor reserves (a
/// refusal after this rolls it back with the rest). `false` when `old` is no longer open.
async fn link_replacement(
    tx: &impl GenericClient,
    new: &NewOrder<'_>,
    old: Uuid,
) -> Result<bool, tokio_postgres::Error> {
    let linked = tx
        .execute(
            &format!(
                "UPDATE orders SET replaced_by = $3 WHERE id = $1 AND user_id = $2 \
                 AND {OPEN_ORDER}"
            ),
            &[&old, &new.user_id, &new.id],
        )
        .await?;
    Ok(linked == 1)
}

/// The count limits: open orders and today's orders (UTC), legs included; a new order needs
/// room for itself and the legs it will have.
async fn check_counts(
    tx: &impl GenericClient,
    new: &NewOrder<'_>,
    caps: Caps,
) -> Result<Option<Refusal>, tokio_postgres::Error> {
    let counts = tx
        .query_one(
            &format!(
                "SELECT count(*) FILTER (WHERE {OPEN_ORDER}), \
                 count(*) FILTER (WHERE created_at >= $2) FROM orders WHERE user_id = $1"
            ),
            &[&new.user_id, &day_start(new.now)],
        )
        .await?;
    let (open, today): (i64, i64) = (counts.get(0), counts.get(1));
    let needed = i64::from(new.order.class.orders());
    Ok(if open + needed > i64::from(caps.max_open) {
        Some(Refusal::count(Limit::OpenOrders, caps.max_open))
    } else if today + needed > i64::from(caps.max_per_day) {
        Some(Refusal::count(Limit::DailyOrders, caps.max_per_day))
    } else {
        None
    })
}

/// Inserts `new` as `submitting`, with what it reserves; `false` on a client order id conflict.
async fn insert(
    tx: &impl GenericClient,
    new: &NewOrder<'_>,
) -> Result<bool, tokio_postgres::Error> {
    let (qty, notional) = match new.order.size {
        OrderSize::Qty(q) => (Some(q.get()), None),
        OrderSize::Notional(n) => (None, Some(n.get())),
    };
    let reserve_price = match (new.order.side, new.order.size) {
        (Side::Sell, OrderSize::Notional(_)) => new.estimate.latest,
        _ => new.estimate.price,
    };
    let inserted = tx
        .execute(
            "INSERT INTO orders (id, user_id, idempotency_key, client_order_id, symbol, side, \
             request, status, claim_id, claimed_at, created_at, updated_at, qty, notional, \
             reserve_price, replaces) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, 'submitting', $8, $9, $9, $9, $10, $11, $12, \
             $13) \
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
                &qty,
                &notional,
                &reserve_price,
                &new.replaces,
            ],
        )
        .await?;
    Ok(inserted == 1)
}

/// The book check: a buy within buying power (cash less what open buys reserve), a sell within
/// the position less what open sells reserve (long only: nothing is sold short).
async fn check_book(
    tx: &impl GenericClient,
    new: &NewOrder<'_>,
) -> Result<Option<Refusal>, tokio_postgres::Error> {
    let reserved = books::reserved(tx, new.user_id).await?;
    let estimate = new.estimate;
    let symbol = new.order.symbol.as_str();
    match new.order.side {
        Side::Buy => {
            let cash = books::book(tx, new.user_id)
                .await?
                .map_or(Decimal::ZERO, |b| b.cash);
            let buying_power = cash - reserved.buys;
            Ok((estimate.cost > buying_power).then(|| {
                Refusal::new(
                    Limit::BuyingPower,
                    format!(
                        "insufficient buying power: this order is about {} USD, {} USD available",
                        estimate.cost.round_dp(2),
                        buying_power.max(Decimal::ZERO).round_dp(2)
                    ),
                )
            }))
        }
        Side::Sell => {
            let held = books::positions(tx, new.user_id, false)
                .await?
                .into_iter()
                .find(|p| p.symbol == symbol)
                .map_or(Decimal::ZERO, |p| p.qty);
            let held_back = reserved.sells.get(symbol).copied().unwrap_or_default();
            let available = (held - held_back).max(Decimal::ZERO);
            Ok((estimate.shares > available).then(|| {
                Refusal::new(
                    Limit::Position,
                    format!(
                        "insufficient position: this order sells about {} {symbol}, {} available",
                        estimate.shares.normalize(),
                        available.normalize()
                    ),
                )
            }))
        }
    }
}

/// Midnight UTC of `now`'s day: the daily limit's window.
fn day_start(now: DateTime<Utc>) -> DateTime<Utc> {
    now.date_naive()
        .and_hms_opt(0, 0, 0)
        .map(|t| t.and_utc())
        .unwrap_or(now)
}
