//! What Alpaca says about an order, applied once to the ledger and the owner's book: an event
//! from the trade stream ([`OrderUpdate::from_event`]) or the order as a reconciliation reads
//! it. An update for a ledger row left unsettled by a crash (`pending`, or `submitting` past
//! the claim's lifetime) settles it as accepted, audited first (`order.submit.accepted`,
//! `settled_by`); when that audit row cannot be written the row is not settled. The order's
//! Alpaca status and object are recorded when newer than what the ledger has, and its fill, if
//! any, is recorded in its owner's book ([`crate::trading::book::record_fill`]).

use chrono::{DateTime, Utc};
use deadpool_postgres::Pool;
use raptor_actors::clock::SharedClock;
use raptor_actors::trade_stream::TradeEvent;
use raptor_actors::Actors;
use serde_json::json;

use crate::audit::AuditEvent;
use crate::trading::book::{self, decimal, FillReport, FillSource};
use crate::trading::ledger::events::{self, OrderEvent};
use crate::trading::submit::CLAIM_SLACK;

/// What Alpaca said about one order: an event from the stream, or the order as the REST API
/// lists it during a reconciliation.
#[derive(Debug, Clone)]
pub struct OrderUpdate<'a> {
    /// The stream's event name, or `reconcile`.
    pub event: &'a str,
    pub client_order_id: Option<&'a str>,
    pub order_id: Option<&'a str>,
    pub order_status: Option<&'a str>,
    /// The order object as received.
    pub order: &'a str,
    /// When it happened (the event's timestamp, or the order's `updated_at`).
    pub at: Option<DateTime<Utc>>,
    /// The execution a `fill`/`partial_fill` event reports: its id and price.
    pub execution: Option<(String, rust_decimal::Decimal)>,
    pub source: FillSource,
}

impl<'a> OrderUpdate<'a> {
    pub fn from_event(event: &'a TradeEvent) -> Self {
        #[derive(serde::Deserialize)]
        struct Execution {
            execution_id: Option<String>,
            price: Option<serde_json::Value>,
        }
        let execution = matches!(event.event.as_str(), "fill" | "partial_fill")
            .then(|| serde_json::from_str::<Execution>(&event.data).ok())
            .flatten()
            .and_then(|e| Some((e.execution_id?, e.price.as_ref().and_then(decimal)?)));
        Self {
            event: &event.event,
            client_order_id: event.client_order_id.as_deref(),
            order_id: event.order_id.as_deref(),
            order_status: event.order_status.as_deref(),
            order: &event.order,
            at: book::time(event.timestamp.as_deref()),
            execution,
            source: FillSource::Stream,
        }
    }
}

/// Applies one update: settles a ledger row left unsettled by a crash (audited first), records
/// the order's Alpaca status and object, and records its fill, if any, in the owner's book.
pub async fn apply_update(
    pool: &Pool,
    actors: &Actors,
    clock: &SharedClock,
    update: &OrderUpdate<'_>,
) -> Result<(), String> {
    let now = clock.now();
    if let Some(client_order_id) = update.client_order_id {
        settle_and_apply(pool, actors, now, client_order_id, update).await?;
    }
    let execution = update
        .execution
        .as_ref()
        .map(|(id, price)| (id.as_str(), *price));
    if let Some(report) = FillReport::from_order(update.order, update.at, execution, update.source)
    {
        book::record_fill(pool, &report, now)
            .await
            .map_err(|e| e.to_string())?;
    }
    Ok(())
}

async fn settle_and_apply(
    pool: &Pool,
    actors: &Actors,
    now: DateTime<Utc>,
    client_order_id: &str,
    update: &OrderUpdate<'_>,
) -> Result<(), String> {
    let lifetime = actors.broker.call_timeout() + CLAIM_SLACK;
    let mut claimed_before = now - chrono::Duration::from_std(lifetime).unwrap_or_default();
    let unsettled = {
        let client = pool.get().await.map_err(|e| e.to_string())?;
        events::unsettled(&client, client_order_id, claimed_before)
            .await
            .map_err(|e| e.to_string())?
    };
    if let Some(row) = unsettled {
        let mut entry = AuditEvent::OrderSubmitAccepted.entry();
        entry.actor_user_id = row.user_id;
        entry.subject = Some(row.id.to_string());
        entry.details = json!({
            "client_order_id": client_order_id,
            "alpaca_order_id": update.order_id,
            "settled_by": if update.source == FillSource::Stream { "trade_stream" } else { "reconcile" },
            "event": update.event,
        });
        if actors.audit.append(entry).await.is_err() {
            tracing::error!(ledger_id = %row.id, "a settlement could not be audited; not settled");
            claimed_before = DateTime::<Utc>::MIN_UTC;
        }
    }
    let order_event = OrderEvent {
        client_order_id,
        alpaca_order_id: update.order_id,
        order_status: update.order_status.unwrap_or(update.event),
        order_body: update.order,
        at: update.at.unwrap_or(now),
    };
    let client = pool.get().await.map_err(|e| e.to_string())?;
    events::apply(&client, order_event, claimed_before, now)
        .await
        .map_err(|e| e.to_string())?;
    // A bracket's, oco's or oto's legs are its owner's orders from the first update that shows
    // them, whether or not it settled or changed the parent (a leg listed after a parent whose answer was
    // lost must find its owner); recorded once, as on a submit.
    if crate::trading::ledger::legs::carried(update.order) {
        if let Some(parent) = events::row_of(&client, client_order_id)
            .await
            .map_err(|e| e.to_string())?
        {
            crate::trading::ledger::legs::record(&client, parent, update.order, now)
                .await
                .map_err(|e| e.to_string())?;
        }
    }
    Ok(())
}
