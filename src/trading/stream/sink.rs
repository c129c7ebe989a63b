//! What the trade stream's events change: the ledger and
//! the books ([`LedgerSink`], `raptor_actors::trade_stream::TradeSink`, through
//! [`crate::trading::updates`]). When the upstream listens again, the ledger is reconciled with
//! the broker ([`crate::trading::reconcile`]) for what the stream could not deliver.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;

use deadpool_postgres::Pool;
use raptor_actors::clock::SharedClock;
use raptor_actors::trade_stream::{TradeEvent, TradeSink};
use raptor_actors::Actors;

use uuid::Uuid;

use super::owners::OwnerCache;
use crate::trading::ledger::events;
use crate::trading::reconcile;
use crate::trading::updates::{apply_update, OrderUpdate};

/// Applies the stream's events to the ledger and the books, and names each event's owner.
pub struct LedgerSink {
    pub pool: Pool,
    pub actors: Actors,
    pub clock: SharedClock,
    /// Owners already read (an order's owner never changes).
    pub owners: Arc<OwnerCache>,
}

impl TradeSink for LedgerSink {
    fn record(&self, event: Arc<TradeEvent>) -> Pin<Box<dyn Future<Output = ()> + Send>> {
        let (pool, actors, clock) = (self.pool.clone(), self.actors.clone(), self.clock.clone());
        Box::pin(async move {
            let update = OrderUpdate::from_event(&event);
            if let Err(error) = apply_update(&pool, &actors, &clock, &update).await {
                tracing::warn!(%error, id = event.id, "an order event could not be applied");
            }
        })
    }

    fn owners(
        &self,
        events: Vec<Arc<TradeEvent>>,
    ) -> Pin<Box<dyn Future<Output = Vec<Option<Uuid>>> + Send>> {
        let (pool, owners) = (self.pool.clone(), self.owners.clone());
        Box::pin(async move {
            let ids: Vec<Option<&str>> = (events.iter())
                .map(|event| event.client_order_id.as_deref())
                .collect();
            owners.owners(&pool, &ids).await
        })
    }

    fn follows(&self) -> Pin<Box<dyn Future<Output = bool> + Send>> {
        let pool = self.pool.clone();
        Box::pin(async move {
            match pool.get().await {
                Ok(client) => events::any_open(&client).await.unwrap_or(false),
                Err(_) => false,
            }
        })
    }

    fn resumed(&self) -> Pin<Box<dyn Future<Output = ()> + Send>> {
        let (pool, actors, clock) = (self.pool.clone(), self.actors.clone(), self.clock.clone());
        Box::pin(async move {
            match reconcile::reconcile(&pool, &actors, &clock).await {
                Ok(done) => tracing::info!(
                    orders = done.orders,
                    fills = done.fills,
                    "reconciled with the broker after the trade stream resumed"
                ),
                Err(error) => tracing::warn!(%error, "reconciliation after a reconnect failed"),
            }
        })
    }
}
