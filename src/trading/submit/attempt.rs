//! The steps of one claimed submission: reconcile (for a row that was not new), intent, call,
//! outcome. Every step takes a pooled connection only for its own short statement.

use raptor_actors::audit::AppendError;
use raptor_actors::broker::{BrokerError, PlacedOrder};
use serde_json::json;
use uuid::Uuid;

use super::Submitted;
use crate::audit::AuditEvent;
use crate::trading::error::SubmitError;
use crate::trading::ids::ClientOrderId;
use crate::trading::ledger::{self, Outcome};
use crate::trading::order::OrderRequest;
use crate::trading::{Trader, Trading};

/// One claimed submission: the steps after the claim.
pub(super) struct Attempt<'a> {
    pub trading: Trading<'a>,
    pub trader: &'a Trader,
    pub order: &'a OrderRequest,
    pub client_order_id: &'a ClientOrderId,
    pub row_id: Uuid,
    pub claim_id: Uuid,
}

impl Attempt<'_> {
    /// A row that was not new: the broker may already hold the order.
    pub async fn reconcile_then_send(&mut self) -> Result<Submitted, SubmitError> {
        match self
            .trading
            .broker
            .find(self.client_order_id.as_str())
            .await
        {
            Ok(placed) => self.accepted(placed, true).await,
            Err(BrokerError::NotFound) => self.send().await,
            Err(error) => {
                self.release().await;
                Err(error.into())
            }
        }
    }

    /// Intent, call, outcome.
    pub async fn send(&mut self) -> Result<Submitted, SubmitError> {
        let mut details = self.order.audit_details();
        details["client_order_id"] = json!(self.client_order_id.as_str());
        if let Err(error) = self.audit(AuditEvent::OrderSubmitRequested, details).await {
            self.release().await;
            return Err(error.into());
        }
        let ticket = self.order.ticket();
        match self
            .trading
            .broker
            .submit(ticket, self.client_order_id.as_str())
            .await
        {
            Ok(placed) => self.accepted(placed, false).await,
            Err(error) if error.is_duplicate_client_order_id() => self.settle_duplicate().await,
            Err(BrokerError::Refused {
                status,
                message,
                body,
            }) => self.rejected(status, message, body).await,
            Err(error) => {
                let outcome = if error.outcome_unknown() {
                    "unknown"
                } else {
                    "not_sent"
                };
                let details = json!({
                    "client_order_id": self.client_order_id.as_str(),
                    "outcome": outcome,
                    "error": error.to_string(),
                });
                if self
                    .audit(AuditEvent::OrderSubmitRejected, details)
                    .await
                    .is_err()
                {
                    tracing::error!("a failed submission could not be audited");
                }
                self.release().await;
                Err(error.into())
            }
        }
    }

    /// Alpaca already holds an order under our client order id (an earlier attempt reached it
    /// though its answer was lost, and the lookup before this send did not see it yet): what
    /// Alpaca has is recorded, never `rejected`. If it cannot be read now, the outcome stays
    /// unknown (audited, claim given back) and the client is asked to retry.
    async fn settle_duplicate(&mut self) -> Result<Submitted, SubmitError> {
        let found = self
            .trading
            .broker
            .find(self.client_order_id.as_str())
            .await;
        let error = match found {
            Ok(placed) => return self.accepted(placed, true).await,
            Err(BrokerError::NotFound) => BrokerError::Unavailable,
            Err(error) => error,
        };
        let details = json!({
            "client_order_id": self.client_order_id.as_str(),
            "outcome": "unknown",
            "error": "the broker holds this client order id but could not show the order",
        });
        if self
            .audit(AuditEvent::OrderSubmitRejected, details)
            .await
            .is_err()
        {
            tracing::error!("a duplicate submission could not be audited");
        }
        self.release().await;
        Err(error.into())
    }

    /// The broker holds the order: the client is told so whatever happens next.
    async fn accepted(
        &mut self,
        placed: PlacedOrder,
        settled_later: bool,
    ) -> Result<Submitted, SubmitError> {
        let details = json!({
            "client_order_id": self.client_order_id.as_str(),
            "alpaca_order_id": placed.order_id,
            "settled_after_lost_answer": settled_later,
        });
        if self
            .audit(AuditEvent::OrderSubmitAccepted, details)
            .await
            .is_err()
        {
            tracing::error!(
                ledger_id = %self.row_id,
                "an accepted order could not be audited; left for reconciliation"
            );
            self.release().await;
        } else {
            let body = placed.body.as_str();
            let order_id = placed.order_id.as_deref();
            self.record(Outcome::Accepted, order_id, 200, body).await;
        }
        Ok(Submitted {
            body: placed.body,
            replayed: false,
        })
    }

    async fn rejected(
        &mut self,
        status: u16,
        message: String,
        body: String,
    ) -> Result<Submitted, SubmitError> {
        let details = json!({
            "client_order_id": self.client_order_id.as_str(),
            "broker_status": status,
            "message": message,
        });
        if let Err(error) = self.audit(AuditEvent::OrderSubmitRejected, details).await {
            self.release().await;
            return Err(error.into());
        }
        self.record(Outcome::Rejected, None, status, &body).await;
        Err(BrokerError::Refused {
            status,
            message,
            body,
        }
        .into())
    }

    async fn audit(
        &self,
        event: AuditEvent,
        details: serde_json::Value,
    ) -> Result<(), AppendError> {
        let mut entry = self.trader.entry(event, self.row_id.to_string());
        entry.details = details;
        self.trading.append(entry).await
    }

    /// Stores the outcome under our claim; a failure leaves the row for reconciliation.
    async fn record(&self, outcome: Outcome, order_id: Option<&str>, status: u16, body: &str) {
        let stored = async {
            let client = self.trading.pool.get().await.map_err(|e| e.to_string())?;
            let now = self.trading.clock.now();
            ledger::record(
                &client,
                self.row_id,
                self.claim_id,
                outcome,
                order_id,
                status,
                body,
                now,
            )
            .await
            .map_err(|e| e.to_string())
        };
        let stored = stored.await;
        self.trading.books.forget(self.trader.user_id);
        match stored {
            Ok(true) => {}
            Ok(false) => tracing::warn!(ledger_id = %self.row_id, "the claim was taken over"),
            Err(error) => tracing::error!(
                %error,
                ledger_id = %self.row_id,
                "an outcome could not be stored; left for reconciliation"
            ),
        }
    }

    /// Gives the claim back: the next attempt reconciles against the broker first.
    async fn release(&self) {
        let released = async {
            let client = self.trading.pool.get().await.map_err(|e| e.to_string())?;
            let now = self.trading.clock.now();
            ledger::release(&client, self.row_id, self.claim_id, now)
                .await
                .map_err(|e| e.to_string())
        };
        if let Err(error) = released.await {
            tracing::error!(%error, ledger_id = %self.row_id, "a claim could not be released");
        }
    }
}
