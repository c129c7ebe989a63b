//! What an account's erasure asks of trading: its open orders are cancelled at the broker
//! before anything is erased, each audited like any cancel (`order.cancel.requested`, then
//! `order.cancel` with its outcome). The books, fills and orders themselves are kept under the
//! user's id, a pseudonym once the user row is purged (docs/gdpr.md).
//!
//! Cancelling is best effort: a broker that is down or switched off does not block an erasure.
//! What could not be cancelled is counted (the erasure's audit row says how many) and the
//! order's fills, if any, still land in the pseudonymous book.

use std::future::Future;
use std::pin::Pin;

use chrono::{DateTime, Utc};
use deadpool_postgres::Pool;
use raptor_actors::audit::AuditClient;
use raptor_actors::broker::{BrokerClient, BrokerConfig, BrokerError, OrderId};
use serde_json::json;
use uuid::Uuid;

use super::ledger::{self, open::OPEN_ORDER};
use crate::audit::AuditEvent;
use crate::db::StorageError;

/// Who cancels at the broker: the web process's broker actor, or (an operator's one-off command,
/// which runs none) one request straight to Alpaca.
#[derive(Clone, Copy)]
pub enum Canceler<'a> {
    Broker(&'a BrokerClient),
    Direct(&'a BrokerConfig),
}

impl Canceler<'_> {
    fn cancel(
        &self,
        id: OrderId,
    ) -> Pin<Box<dyn Future<Output = Result<(), BrokerError>> + Send + '_>> {
        match self {
            Self::Broker(broker) => Box::pin(broker.cancel(id)),
            Self::Direct(config) => Box::pin(raptor_actors::broker::cancel_once(config, id)),
        }
    }
}

/// How the open orders fared.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Canceled {
    pub canceled: usize,
    pub failed: usize,
}

/// Cancels every open order of `user_id` that reached the broker.
pub async fn cancel_open_orders(
    pool: &Pool,
    audit: &AuditClient,
    canceler: &Canceler<'_>,
    user_id: Uuid,
    now: DateTime<Utc>,
) -> Result<Canceled, StorageError> {
    let open: Vec<String> = pool
        .get()
        .await?
        .query(
            &format!(
                "SELECT alpaca_order_id FROM orders WHERE user_id = $1 \
                 AND alpaca_order_id IS NOT NULL AND {OPEN_ORDER}"
            ),
            &[&user_id],
        )
        .await?
        .into_iter()
        .map(|r| r.get(0))
        .collect();
    let mut done = Canceled::default();
    for alpaca_id in open {
        let Ok(id) = OrderId::parse(&alpaca_id) else {
            done.failed += 1;
            continue;
        };
        let mut intent = AuditEvent::OrderCancelRequested.entry();
        intent.actor_user_id = Some(user_id);
        intent.subject = Some(alpaca_id.clone());
        intent.details = json!({ "reason": "account erasure" });
        if audit.append(intent).await.is_err() {
            done.failed += 1;
            continue;
        }
        let result = canceler.cancel(id).await;
        let mut outcome = AuditEvent::OrderCancel.entry();
        outcome.actor_user_id = Some(user_id);
        outcome.subject = Some(alpaca_id.clone());
        outcome.details = json!({
            "reason": "account erasure",
            "outcome": if result.is_ok() { "canceled" } else { "failed" },
        });
        if audit.append(outcome).await.is_err() {
            tracing::error!(order_id = %alpaca_id, "an erasure's cancel could not be audited");
        }
        match result {
            Ok(()) => {
                ledger::mark_canceled(&pool.get().await?, &alpaca_id, now).await?;
                done.canceled += 1;
            }
            Err(error) => {
                tracing::warn!(%error, "an erased account's open order could not be cancelled");
                done.failed += 1;
            }
        }
    }
    Ok(done)
}
