//! Paper books (docs/trading.md "Books"): every user trades on the one shared paper account,
//! and Raptor keeps a sub-ledger per user in Postgres, fed by the fills of that user's orders.
//!
//! - [`open_book`]: a book starts with `PAPER_BOOK_INITIAL_CASH` when the account is activated
//!   (or at its first trading request), audited (`book.open`) first.
//! - [`record_fill`]: one execution of an order, from the stream or a reconciliation, recorded
//!   once whatever the order of delivery ([`fold`] says why), and the owner's position and cash
//!   brought in step in the same transaction, under the owner's order lock.
//! - [`view`]: the caller's account and positions in Alpaca's field names, priced without
//!   calling Alpaca.
//! - [`adjust`]: an operator's audited cash adjustment.
//! - [`keeper`]: the periodic reconciliation (web) and the daily close snapshot (worker).
//!
//! An order placed outside Raptor lands in the operator book (the nil user id), so the books
//! together always add up to the shared account (`raptor book reconcile`).

pub mod cache;
pub mod drift;
pub mod fold;
pub mod history;
pub mod keeper;
pub mod operator;
pub mod repo;
pub mod snapshots;
pub mod view;

use chrono::{DateTime, Utc};
use deadpool_postgres::Pool;
use raptor_actors::audit::AuditClient;
use rust_decimal::Decimal;
use serde::Deserialize;
use serde_json::json;
use uuid::Uuid;

use crate::audit::AuditEvent;
use crate::db::StorageError;
use crate::trading::ledger;
pub use fold::FillSide;

/// Each web process's cache of books and first pages of open orders ([`cache`]).
pub type BookCache = cache::Cache<view::RawBook, crate::trading::ledger::listing::Page>;

/// The book that holds orders placed outside Raptor.
pub const OPERATOR_BOOK: Uuid = Uuid::nil();

/// Where a fill was learnt.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FillSource {
    Stream,
    Reconcile,
}

impl FillSource {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Stream => "stream",
            Self::Reconcile => "reconcile",
        }
    }
}

/// An order's cumulative fill as Alpaca reported it after one execution.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FillReport {
    pub alpaca_order_id: String,
    pub client_order_id: Option<String>,
    pub symbol: String,
    pub asset_class: String,
    pub side: FillSide,
    pub cum_qty: Decimal,
    pub cum_notional: Decimal,
    pub filled_at: DateTime<Utc>,
    pub execution_id: Option<String>,
    /// The execution's own price, when the report names it (the stream's `price`).
    pub price: Option<Decimal>,
    pub source: FillSource,
}

/// The fields of an Alpaca order object a fill needs. Amounts arrive as strings or numbers.
#[derive(Deserialize)]
struct OrderFill {
    id: String,
    client_order_id: Option<String>,
    symbol: String,
    asset_class: Option<String>,
    side: String,
    filled_qty: Option<serde_json::Value>,
    filled_avg_price: Option<serde_json::Value>,
    filled_at: Option<String>,
    updated_at: Option<String>,
}

/// A decimal that Alpaca sent as a string or a number.
pub fn decimal(value: &serde_json::Value) -> Option<Decimal> {
    match value {
        serde_json::Value::String(text) => text.trim().parse().ok(),
        serde_json::Value::Number(number) => number.to_string().parse().ok(),
        _ => None,
    }
}

/// A time Alpaca wrote (RFC 3339), in UTC.
pub fn time(text: Option<&str>) -> Option<DateTime<Utc>> {
    DateTime::parse_from_rfc3339(text?)
        .ok()
        .map(|t| t.with_timezone(&Utc))
}

impl FillReport {
    /// The fill an Alpaca order object reports (`None` when nothing is filled). `at` is when
    /// the execution happened if the caller knows (a stream event's timestamp), else the
    /// order's own `filled_at` or `updated_at` stand for it.
    pub fn from_order(
        order: &str,
        at: Option<DateTime<Utc>>,
        execution: Option<(&str, Decimal)>,
        source: FillSource,
    ) -> Option<Self> {
        let order: OrderFill = serde_json::from_str(order).ok()?;
        let cum_qty = order.filled_qty.as_ref().and_then(decimal)?;
        let avg = order.filled_avg_price.as_ref().and_then(decimal)?;
        if cum_qty <= Decimal::ZERO || avg <= Decimal::ZERO {
            return None;
        }
        let filled_at = at
            .or_else(|| time(order.filled_at.as_deref()))
            .or_else(|| time(order.updated_at.as_deref()))?;
        Some(Self {
            alpaca_order_id: order.id,
            client_order_id: order.client_order_id,
            symbol: order.symbol,
            asset_class: order.asset_class.unwrap_or_else(|| "us_equity".to_owned()),
            side: FillSide::parse(&order.side)?,
            cum_qty,
            cum_notional: cum_qty.checked_mul(avg)?,
            filled_at,
            execution_id: execution.map(|(id, _)| id.to_owned()),
            price: execution.map(|(_, price)| price),
            source,
        })
    }
}

/// Records `report` once, in its owner's book (the operator book for an order not placed
/// through Raptor); `true` when it was new.
pub async fn record_fill(
    pool: &Pool,
    report: &FillReport,
    now: DateTime<Utc>,
) -> Result<bool, StorageError> {
    let mut client = pool.get().await?;
    let tx = client.transaction().await?;
    let owner = ledger::owner_by_ids(
        &tx,
        report.client_order_id.as_deref(),
        &report.alpaca_order_id,
    )
    .await?;
    let (order_id, user_id) = owner.map_or((None, OPERATOR_BOOK), |(id, user)| (Some(id), user));
    ledger::lock_user(&tx, user_id).await?;
    let inserted = repo::insert_fill(&tx, user_id, order_id, report, now).await?;
    if inserted {
        repo::refold(&tx, user_id, &report.symbol, &report.asset_class, now).await?;
        repo::refresh_cash(&tx, user_id, now).await?;
        repo::refresh_order_fill(&tx, &report.alpaca_order_id).await?;
    }
    let price = report
        .price
        .unwrap_or_else(|| (report.cum_notional / report.cum_qty).round_dp(6));
    repo::put_mark(&tx, &report.symbol, price, report.filled_at).await?;
    tx.commit().await?;
    Ok(inserted)
}

/// Opens `user_id`'s book if it is not open yet: audited (`book.open`) before it is written.
pub async fn open_book(
    pool: &Pool,
    audit: &AuditClient,
    user_id: Uuid,
    initial_cash: Decimal,
    now: DateTime<Utc>,
) -> Result<(), OpenError> {
    {
        let client = pool.get().await?;
        if repo::book(&client, user_id).await?.is_some() {
            return Ok(());
        }
    }
    let mut entry = AuditEvent::BookOpen.entry();
    entry.actor_user_id = Some(user_id);
    entry.subject = Some(user_id.to_string());
    entry.details = json!({ "initial_cash": initial_cash.to_string(), "currency": "USD" });
    audit.append(entry).await?;
    let client = pool.get().await?;
    repo::open(&client, user_id, initial_cash, now).await?;
    Ok(())
}

/// Why a book could not be opened or adjusted.
#[derive(Debug, thiserror::Error)]
pub enum OpenError {
    #[error(transparent)]
    Audit(#[from] raptor_actors::audit::AppendError),
    #[error(transparent)]
    Storage(#[from] StorageError),
}
crate::db::storage_errors!(OpenError);

/// Adds `delta` to `user_id`'s cash for `reason`, audited (`book.adjust`) before it is written;
/// the new cash.
pub async fn adjust(
    pool: &Pool,
    audit: &AuditClient,
    user_id: Uuid,
    delta: Decimal,
    reason: &str,
    now: DateTime<Utc>,
) -> Result<Option<Decimal>, OpenError> {
    {
        let client = pool.get().await?;
        if repo::book(&client, user_id).await?.is_none() {
            return Ok(None);
        }
    }
    let mut entry = AuditEvent::BookAdjust.entry();
    entry.subject = Some(user_id.to_string());
    entry.details = json!({ "delta": delta.to_string(), "reason": reason, "source": "cli" });
    audit.append(entry).await?;
    let mut client = pool.get().await?;
    let tx = client.transaction().await?;
    ledger::lock_user(&tx, user_id).await?;
    repo::insert_adjustment(&tx, user_id, delta, reason, now).await?;
    repo::refresh_cash(&tx, user_id, now).await?;
    let cash = repo::book(&tx, user_id).await?.map(|b| b.cash);
    tx.commit().await?;
    Ok(cash)
}
