//! Reconciliation: what the trade stream could not deliver (it was down, the dyno restarted, an
//! event was dropped) is read back from Alpaca's REST API and applied exactly once, like the
//! stream's own events ([`crate::trading::updates`]).
//!
//! One pass lists Alpaca's orders (`GET /v2/orders?status=all&after=…&direction=asc&nested=true`,
//! pages of 500; a bracket's, oco's or oto's legs inside their parent, applied after it, so a
//! parent whose answer was lost records its legs as its owner's before their fills are applied) submitted since the older of the oldest order still open in the ledger and the previous
//! pass's mark, and applies each: its status and object to its ledger row, its cumulative fill
//! to its owner's book (an order placed outside Raptor to the operator book). It runs after
//! every upstream reconnect (which includes the first connection after startup) and
//! periodically on the worker while orders are open ([`reconcile_if_due`]).

use chrono::{DateTime, Duration, Utc};
use deadpool_postgres::{GenericClient, Pool};
use raptor_actors::broker::{BrokerError, ListStatus, OrderListing};
use raptor_actors::clock::SharedClock;
use raptor_actors::Actors;
use serde::Deserialize;
use serde_json::value::RawValue;

use super::book::FillSource;
use super::ledger::open::OPEN_ORDER;
use super::updates::{apply_update, OrderUpdate};
use crate::db::StorageError;

/// Orders asked for per page (Alpaca's maximum).
const PAGE: u16 = 500;
/// Pages one pass reads at most; the next pass continues from its mark.
const MAX_PAGES: usize = 20;
/// How far before its start a pass's mark is set (clock skew between Alpaca and us).
const MARK_MARGIN: Duration = Duration::minutes(2);
/// How often the worker's periodic pass runs while orders are open.
pub const EVERY: std::time::Duration = std::time::Duration::from_secs(30);

/// What one pass did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Reconciled {
    pub orders: usize,
    pub fills: usize,
}

/// Why a pass stopped.
#[derive(Debug, thiserror::Error)]
pub enum ReconcileError {
    #[error(transparent)]
    Broker(#[from] BrokerError),
    #[error(transparent)]
    Storage(#[from] StorageError),
    #[error("an order could not be applied: {0}")]
    Apply(String),
}
crate::db::storage_errors!(ReconcileError);

/// One pass (see the module's documentation).
pub async fn reconcile(
    pool: &Pool,
    actors: &Actors,
    clock: &SharedClock,
) -> Result<Reconciled, ReconcileError> {
    let started = clock.now();
    let Some(mut after) = since(&pool.get().await?, started).await? else {
        return Ok(Reconciled::default());
    };
    let mut done = Reconciled::default();
    for _ in 0..MAX_PAGES {
        let listing = OrderListing {
            status: ListStatus::All,
            limit: PAGE,
            after: Some(after - Duration::milliseconds(1)),
            ascending: true,
            nested: true,
        };
        let page = actors.broker.orders(listing).await?;
        let orders: Vec<&RawValue> = serde_json::from_str(page.as_str())
            .map_err(|_| ReconcileError::Apply("the order list is not an array".into()))?;
        for raw in &orders {
            // The parent first (it records its legs as its owner's orders), then each leg.
            for order in std::iter::once(raw.get()).chain(legs_of(raw.get())) {
                let fields = Fields::of(order);
                if let Some(submitted) = fields.submitted_at {
                    after = after.max(submitted);
                }
                done.orders += 1;
                done.fills += usize::from(fields.filled);
                apply_update(pool, actors, clock, &fields.update(order))
                    .await
                    .map_err(ReconcileError::Apply)?;
            }
        }
        if orders.len() < usize::from(PAGE) {
            break;
        }
    }
    mark(&pool.get().await?, started - MARK_MARGIN).await?;
    Ok(done)
}

/// Runs a pass on the worker when orders are open and no other worker ran one in the last
/// [`EVERY`]; `None` when it was not due.
pub async fn reconcile_if_due(
    pool: &Pool,
    actors: &Actors,
    clock: &SharedClock,
) -> Result<Option<Reconciled>, ReconcileError> {
    let now = clock.now();
    let due = {
        let client = pool.get().await?;
        let taken = client
            .execute(
                &format!(
                    "UPDATE book_reconciliation SET ran_at = $1 WHERE ran_at < $2 \
                     AND EXISTS (SELECT 1 FROM orders WHERE {OPEN_ORDER})"
                ),
                &[&now, &(now - Duration::from_std(EVERY).unwrap_or_default())],
            )
            .await?;
        taken == 1
    };
    if !due {
        return Ok(None);
    }
    reconcile(pool, actors, clock).await.map(Some)
}

/// Where a pass starts: the older of the oldest open order and the previous pass's mark; with
/// neither (nothing ever traded), `None`.
async fn since(
    client: &impl GenericClient,
    now: DateTime<Utc>,
) -> Result<Option<DateTime<Utc>>, tokio_postgres::Error> {
    let row = client
        .query_one(
            &format!(
                "SELECT least((SELECT min(created_at) FROM orders WHERE {OPEN_ORDER}), \
                 (SELECT through FROM book_reconciliation)), \
                 EXISTS (SELECT 1 FROM orders)"
            ),
            &[],
        )
        .await?;
    let (since, any): (Option<DateTime<Utc>>, bool) = (row.get(0), row.get(1));
    Ok(match since {
        Some(since) => Some(since.min(now)),
        None if any => Some(now - Duration::days(1)),
        None => None,
    })
}

async fn mark(
    client: &impl GenericClient,
    through: DateTime<Utc>,
) -> Result<(), tokio_postgres::Error> {
    client
        .execute("UPDATE book_reconciliation SET through = $1", &[&through])
        .await?;
    Ok(())
}

/// The legs a listed order carries (the listing is nested: legs are not listed on their own).
fn legs_of(raw: &str) -> impl Iterator<Item = &str> {
    #[derive(Deserialize, Default)]
    struct WithLegs<'a> {
        #[serde(borrow)]
        legs: Option<Vec<&'a RawValue>>,
    }
    let parsed: WithLegs<'_> = serde_json::from_str(raw).unwrap_or_default();
    parsed
        .legs
        .unwrap_or_default()
        .into_iter()
        .map(RawValue::get)
}

/// The few fields of a listed order a pass reads.
struct Fields {
    id: Option<String>,
    client_order_id: Option<String>,
    status: Option<String>,
    submitted_at: Option<DateTime<Utc>>,
    updated_at: Option<DateTime<Utc>>,
    filled: bool,
}

impl Fields {
    fn of(raw: &str) -> Self {
        #[derive(Deserialize, Default)]
        struct Wire {
            id: Option<String>,
            client_order_id: Option<String>,
            status: Option<String>,
            submitted_at: Option<String>,
            created_at: Option<String>,
            updated_at: Option<String>,
            filled_qty: Option<serde_json::Value>,
        }
        let wire: Wire = serde_json::from_str(raw).unwrap_or_default();
        let time = super::book::time;
        Self {
            filled: wire
                .filled_qty
                .as_ref()
                .and_then(super::book::decimal)
                .is_some_and(|q| !q.is_zero()),
            submitted_at: time(wire.submitted_at.as_deref()).or(time(wire.created_at.as_deref())),
            updated_at: time(wire.updated_at.as_deref()),
            id: wire.id,
            client_order_id: wire.client_order_id,
            status: wire.status,
        }
    }

    fn update<'a>(&'a self, raw: &'a str) -> OrderUpdate<'a> {
        OrderUpdate {
            event: "reconcile",
            client_order_id: self.client_order_id.as_deref(),
            order_id: self.id.as_deref(),
            order_status: self.status.as_deref(),
            order: raw,
            at: self.updated_at,
            execution: None,
            source: FillSource::Reconcile,
        }
    }
}
