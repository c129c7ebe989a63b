//! The trade stream's source (from the settings) and what its events change: the ledger
//! ([`LedgerSink`], `raptor_actors::trade_stream::TradeSink`). An event records its order's
//! Alpaca status; an event for a row left unsettled by a crash (`pending`, or `submitting`
//! past the claim's lifetime) settles it as accepted, audited first (`order.submit.accepted`,
//! `settled_by: trade_stream`); when that audit row cannot be written the row is not settled.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;

use chrono::{DateTime, Utc};
use deadpool_postgres::Pool;
use raptor_actors::clock::SharedClock;
use raptor_actors::trade_stream::{
    stream_url, StreamSource, TradeEvent, TradeSink, TradeStreamConfig,
};
use raptor_actors::Actors;
use serde_json::json;

use crate::audit::AuditEvent;
use crate::settings::Settings;
use crate::trading::ledger::events::{self, OrderEvent};
use crate::trading::submit::CLAIM_SLACK;

/// The stream's source: the simulated broker's events when the broker is simulated, Alpaca's
/// paper stream when credentials are set, else none.
pub fn stream_config(settings: &Settings) -> TradeStreamConfig {
    let broker = super::super::broker_config(settings);
    let source = match (broker.kind, &broker.api_key, &broker.api_secret) {
        (raptor_actors::broker::BrokerKind::Simulated, _, _) => StreamSource::Simulated,
        (_, Some(key_id), Some(secret_key)) => {
            match stream_url(&broker.base_url, !settings.app_env.is_deployed()) {
                Ok(url) => StreamSource::Alpaca {
                    url,
                    key_id: key_id.clone(),
                    secret_key: secret_key.clone(),
                },
                Err(problem) => {
                    tracing::error!(%problem, "no trade stream for ALPACA_PAPER_BASE_URL");
                    StreamSource::Off
                }
            }
        }
        _ => StreamSource::Off,
    };
    TradeStreamConfig::new(source)
}

/// Applies the stream's events to the ledger.
pub struct LedgerSink {
    pub pool: Pool,
    pub actors: Actors,
    pub clock: SharedClock,
}

impl TradeSink for LedgerSink {
    fn record(&self, event: Arc<TradeEvent>) -> Pin<Box<dyn Future<Output = ()> + Send>> {
        let (pool, actors, clock) = (self.pool.clone(), self.actors.clone(), self.clock.clone());
        Box::pin(async move {
            if let Err(error) = record(&pool, &actors, &clock, &event).await {
                tracing::warn!(%error, id = event.id, "an order event could not be applied");
            }
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
}

async fn record(
    pool: &Pool,
    actors: &Actors,
    clock: &SharedClock,
    event: &TradeEvent,
) -> Result<(), String> {
    let Some(client_order_id) = event.client_order_id.as_deref() else {
        return Ok(());
    };
    let now = clock.now();
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
            "alpaca_order_id": event.order_id,
            "settled_by": "trade_stream",
            "event": event.event,
        });
        if actors.audit.append(entry).await.is_err() {
            tracing::error!(ledger_id = %row.id, "a settlement could not be audited; not settled");
            claimed_before = DateTime::<Utc>::MIN_UTC;
        }
    }
    let at = event
        .timestamp
        .as_deref()
        .and_then(|t| DateTime::parse_from_rfc3339(t).ok())
        .map_or(now, |t| t.with_timezone(&Utc));
    let order_event = OrderEvent {
        client_order_id,
        alpaca_order_id: event.order_id.as_deref(),
        order_status: event.order_status.as_deref().unwrap_or(&event.event),
        order_body: &event.order,
        at,
    };
    let client = pool.get().await.map_err(|e| e.to_string())?;
    events::apply(&client, order_event, claimed_before, now)
        .await
        .map_err(|e| e.to_string())?;
    Ok(())
}
