//! `list_orders`, `get_order` and `cancel_order`: a user sees only the orders they placed, from
//! the ledger; a user cancels only their own orders (an operator, any order of the account).
//!
//! A cancel is audited before it is sent (`order.cancel.requested`), and its outcome after
//! (`order.cancel`, with the outcome), then the ledger is updated; no connection is held while
//! the broker or the audit writer is awaited.

use std::sync::Arc;

use raptor_actors::broker::BrokerError;
use serde_json::json;

use super::error::{CancelError, ReadError};
use super::ids::OrderId;
use super::ledger::{self, listing, listing::Page};
use super::listing::OrderQuery;
use super::{Trader, Trading};
use crate::audit::AuditEvent;

/// The trader's orders as `query` asks, from the ledger (never from Alpaca).
pub async fn list_orders(
    trading: Trading<'_>,
    trader: &Trader,
    query: OrderQuery,
) -> Result<Arc<Page>, ReadError> {
    super::account::ensure_enabled(&trading).await?;
    // The SPA's poll (open orders, newest first, the first page) is answered from the cache.
    let cacheable = query == OrderQuery::default_listing();
    if cacheable {
        if let Some(page) = trading.books.open_orders(trader.user_id) {
            return Ok(page);
        }
    }
    let ticket = trading.books.ticket(trader.user_id);
    let client = trading.pool.get().await?;
    let page = Arc::new(listing::page(&client, trader.user_id, &query).await?);
    if cacheable {
        trading.books.put_open_orders(ticket, page.clone());
    }
    Ok(page)
}

/// The trader's order `id` (Alpaca's order id), from the ledger.
pub async fn get_order(
    trading: Trading<'_>,
    trader: &Trader,
    id: &str,
) -> Result<String, ReadError> {
    super::account::ensure_enabled(&trading).await?;
    let order_id = OrderId::parse(id).map_err(|_| ReadError::NotFound)?;
    let client = trading.pool.get().await?;
    listing::one(&client, trader.user_id, &order_id.to_string())
        .await?
        .ok_or(ReadError::NotFound)
}

/// Cancels the broker order `id` (as the client wrote it) if `trader` may.
pub async fn cancel_order(
    trading: Trading<'_>,
    trader: &Trader,
    id: &str,
) -> Result<(), CancelError> {
    super::account::ensure_enabled(&trading).await?;
    let order_id = OrderId::parse(id).map_err(|_| CancelError::NotFound)?;
    let alpaca_id = order_id.to_string();
    if !trader.is_operator {
        let client = trading.pool.get().await?;
        if !ledger::placed_by(&client, trader.user_id, &alpaca_id).await? {
            return Err(CancelError::NotFound);
        }
    }
    trading
        .lane_share
        .take(trader.user_id)
        .map_err(|retry_after| CancelError::TooMany { retry_after })?;
    let intent = trader.entry(AuditEvent::OrderCancelRequested, alpaca_id.clone());
    trading.append(intent).await?;

    let result = trading.broker.cancel(order_id).await;
    let mut outcome = trader.entry(AuditEvent::OrderCancel, alpaca_id.clone());
    outcome.details = json!({
        "outcome": match &result {
            Ok(()) => "canceled",
            Err(error) => outcome_name(error),
        },
    });
    if trading.append(outcome).await.is_err() {
        // The intent row stands for the change; the cancel itself is not undone.
        tracing::error!(order_id = %alpaca_id, "a cancel's outcome could not be audited");
    }
    result?;
    let client = trading.pool.get().await?;
    ledger::mark_canceled(&client, &alpaca_id, trading.clock.now()).await?;
    trading.books.forget(trader.user_id);
    Ok(())
}

/// The outcome recorded for a failed cancel (the error code a client sees).
fn outcome_name(error: &BrokerError) -> &'static str {
    match error {
        BrokerError::Disabled(_) => "trading_disabled",
        BrokerError::Refused { .. } => "broker_rejected",
        BrokerError::NotFound => "not_found",
        BrokerError::RateLimited { .. } => "broker_rate_limited",
        BrokerError::Timeout => "broker_timeout",
        BrokerError::Unreachable => "broker_unreachable",
        BrokerError::BadGateway => "broker_error",
        BrokerError::Unavailable => "service_unavailable",
    }
}
