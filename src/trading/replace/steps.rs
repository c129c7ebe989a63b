//! The steps of one replacement after its checks: claim (linking the old row), intent, call,
//! outcome. Each step takes a pooled connection only for its own short statement.

use raptor_actors::audit::AppendError;
use raptor_actors::broker::{BrokerError, OrderId, PlacedOrder, ReplaceTicket};
use serde_json::json;
use uuid::Uuid;

use super::{ReplaceDraft, ReplaceError};
use crate::audit::AuditEvent;
use crate::trading::error::SubmitError;
use crate::trading::ids::ClientOrderId;
use crate::trading::ledger::limits::{self, Caps, Claimed};
use crate::trading::ledger::{self, NewOrder, Outcome};
use crate::trading::order::OrderRequest;
use crate::trading::risk::{self, Estimate};
use crate::trading::submit::Submitted;
use crate::trading::{Trader, Trading};

/// One replacement of the order `order_id` (ledger row `old_row`) by `order`.
pub(super) struct Replacement<'a> {
    pub trading: Trading<'a>,
    pub trader: &'a Trader,
    pub order: &'a OrderRequest,
    pub client_order_id: &'a ClientOrderId,
    pub row_id: Uuid,
    pub claim_id: Uuid,
    pub old_row: Uuid,
    pub order_id: OrderId,
}

impl Replacement<'_> {
    /// Claims the replacement's row under the user's lock, with the book and count checks, and
    /// links the old row to it.
    pub async fn claim(&self, estimate: &Estimate) -> Result<(), ReplaceError> {
        let caps = Caps {
            max_open: self.trading.risk.max_open_orders,
            max_per_day: self.trading.risk.max_orders_per_day,
        };
        let new = NewOrder {
            id: self.row_id,
            user_id: self.trader.user_id,
            key: None,
            client_order_id: self.client_order_id,
            order: self.order,
            claim_id: self.claim_id,
            now: self.trading.clock.now(),
            estimate,
            replaces: Some(self.old_row),
        };
        let claimed = {
            let mut client = self.trading.pool.get().await?;
            limits::claim_within(&mut client, new, caps).await?
        };
        self.trading.books.forget(self.trader.user_id);
        match claimed {
            Claimed::Inserted => Ok(()),
            Claimed::Exists => Err(SubmitError::InProgress {
                retry_after: std::time::Duration::from_secs(1),
            }
            .into()),
            Claimed::NotReplaceable => Err(ReplaceError::NotOpen),
            Claimed::Refused(refusal) => {
                risk::audit_refusal(&self.trading, self.trader, self.order, &refusal).await;
                Err(SubmitError::RiskLimit(refusal).into())
            }
        }
    }

    /// Intent, call, outcome.
    pub async fn send(&self, draft: &ReplaceDraft) -> Result<Submitted, ReplaceError> {
        let mut details = self.order.audit_details();
        details["client_order_id"] = json!(self.client_order_id.as_str());
        details["replaces"] = json!(self.order_id.to_string());
        if let Err(error) = self.audit(AuditEvent::OrderSubmitRequested, details).await {
            self.unlink(true).await;
            return Err(error.into());
        }
        let ticket = ReplaceTicket {
            qty: draft.qty,
            limit_price: draft.limit_price,
            stop_price: draft.stop_price,
            trail: draft.trail,
            time_in_force: draft
                .time_in_force
                .as_ref()
                .map(|_| self.order.time_in_force.as_str()),
            client_order_id: self.client_order_id.as_str().to_owned(),
            becomes: self.order.ticket(),
        };
        let answer = self.trading.broker.replace(self.order_id, ticket).await;
        let answer = match answer {
            Err(error) if error.is_duplicate_client_order_id() => {
                self.trading
                    .broker
                    .find(self.client_order_id.as_str())
                    .await
            }
            other => other,
        };
        match answer {
            Ok(placed) => self.accepted(placed).await,
            Err(error) => self.failed(error).await,
        }
    }

    async fn accepted(&self, placed: PlacedOrder) -> Result<Submitted, ReplaceError> {
        let details = json!({
            "client_order_id": self.client_order_id.as_str(),
            "alpaca_order_id": placed.order_id,
            "replaces": self.order_id.to_string(),
        });
        if self
            .audit(AuditEvent::OrderSubmitAccepted, details)
            .await
            .is_err()
        {
            tracing::error!(ledger_id = %self.row_id, "an accepted replacement could not be audited");
            self.release().await;
        } else {
            let id = placed.order_id.as_deref();
            self.record(Outcome::Accepted, id, 200, placed.body.as_str())
                .await;
        }
        Ok(Submitted {
            body: placed.body,
            replayed: false,
        })
    }

    /// Refused (recorded, link undone), never sent (row removed, link undone), or unknown (the
    /// row waits for the stream or a retry; the old order stays linked).
    async fn failed(&self, error: BrokerError) -> Result<Submitted, ReplaceError> {
        let outcome = match &error {
            BrokerError::Refused { .. } | BrokerError::NotFound => "refused",
            e if e.outcome_unknown() => "unknown",
            _ => "not_sent",
        };
        let details = json!({
            "client_order_id": self.client_order_id.as_str(),
            "replaces": self.order_id.to_string(),
            "outcome": outcome,
            "error": error.to_string(),
        });
        if self
            .audit(AuditEvent::OrderSubmitRejected, details)
            .await
            .is_err()
        {
            tracing::error!("a failed replacement could not be audited");
        }
        match (&error, outcome) {
            (BrokerError::Refused { status, body, .. }, _) => {
                self.record(Outcome::Rejected, None, *status, body).await;
                self.unlink(false).await;
            }
            (BrokerError::NotFound, _) => {
                self.record(Outcome::Rejected, None, 404, "").await;
                self.unlink(false).await;
                return Err(ReplaceError::NotFound);
            }
            (_, "unknown") => self.release().await,
            _ => self.unlink(true).await,
        }
        Err(error.into())
    }

    async fn audit(
        &self,
        event: AuditEvent,
        details: serde_json::Value,
    ) -> Result<(), AppendError> {
        let mut entry = self.trader.entry(event, self.row_id.to_string());
        entry.details = details;
        self.trading.audit.append(entry).await.map(|_| ())
    }

    async fn record(&self, outcome: Outcome, order_id: Option<&str>, status: u16, body: &str) {
        let stored = async {
            let client = self.trading.pool.get().await.map_err(|e| e.to_string())?;
            let now = self.trading.clock.now();
            let (id, claim) = (self.row_id, self.claim_id);
            ledger::record(&client, id, claim, outcome, order_id, status, body, now)
                .await
                .map_err(|e| e.to_string())
        };
        if let Err(error) = stored.await {
            tracing::error!(%error, ledger_id = %self.row_id, "a replacement's outcome was not stored");
        }
        self.trading.books.forget(self.trader.user_id);
    }

    async fn release(&self) {
        let released = async {
            let client = self.trading.pool.get().await.map_err(|e| e.to_string())?;
            let now = self.trading.clock.now();
            ledger::release(&client, self.row_id, self.claim_id, now)
                .await
                .map_err(|e| e.to_string())
        };
        if let Err(error) = released.await {
            tracing::error!(%error, ledger_id = %self.row_id, "a replacement's claim was not released");
        }
    }

    /// The old order is open again; `remove` drops the replacement's unsettled row too.
    async fn unlink(&self, remove: bool) {
        let unlinked = async {
            let client = self.trading.pool.get().await.map_err(|e| e.to_string())?;
            ledger::unlink_replacement(&client, self.old_row, self.row_id, remove)
                .await
                .map_err(|e| e.to_string())
        };
        if let Err(error) = unlinked.await {
            tracing::error!(%error, ledger_id = %self.old_row, "a replacement could not be undone");
        }
        self.trading.books.forget(self.trader.user_id);
    }
}
