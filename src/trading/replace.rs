//! `replace_order` (issue 26 item 1): `PATCH /api/trading/orders/{id}` replaces one of the
//! caller's open orders through Alpaca's `PATCH /v2/orders/{id}`. The replacement is an order
//! of the caller's like any other: its own ledger row (with `replaces`), claimed under the
//! per-user lock with the book and count checks, audited (`order.submit.*` with `replaces`),
//! listed and streamed (it carries a client order id of ours). Claiming it links the old row
//! (`replaced_by`), so from then on only the replacement counts as open and reserves; a refusal
//! or a request never sent undoes the link. `Idempotency-Key` (or the body's `client_order_id`)
//! makes a retry replay the first outcome. Nothing is held while Alpaca or the audit writer is
//! awaited.

use raptor_actors::broker::BrokerError;
use rust_decimal::Decimal;
use serde::Deserialize;
use uuid::Uuid;

use super::assets::{self, NotTradable};
use super::error::SubmitError;
use super::ids::{ClientOrderId, IdempotencyKey, OrderId};
use super::in_flight::{self, InFlight};
use super::ledger::{self, LedgerStatus};
use super::order::{OrderDraft, OrderRequest};
use super::risk::{self, Estimate, RiskError};
use super::submit::{replay_accepted, replay_rejected, Submitted};
use super::{Trader, Trading};
use crate::input::{InvalidInput, Problems};

/// The body of `PATCH /api/trading/orders/{id}` (Alpaca's field names): at least one change.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ReplaceDraft {
    pub qty: Option<Decimal>,
    pub limit_price: Option<Decimal>,
    pub stop_price: Option<Decimal>,
    pub trail: Option<Decimal>,
    pub time_in_force: Option<String>,
    /// The client's idempotency key, when it sends no `Idempotency-Key` header.
    pub client_order_id: Option<String>,
}

/// Why an order was not replaced.
#[derive(Debug, thiserror::Error)]
pub enum ReplaceError {
    /// No such order of the caller's (or Alpaca knows none).
    #[error("no such order")]
    NotFound,
    /// The order is no longer open (filled, cancelled, replaced, or being replaced).
    #[error("the order is no longer open")]
    NotOpen,
    #[error(transparent)]
    Submit(#[from] SubmitError),
}

/// Lets `?` turn the errors a submission knows into [`ReplaceError::Submit`].
macro_rules! via_submit {
    ($($error:ty),*) => {$(
        impl From<$error> for ReplaceError {
            fn from(error: $error) -> Self {
                Self::Submit(error.into())
            }
        }
    )*};
}
via_submit!(
    BrokerError,
    InvalidInput,
    assets::AssetError,
    tokio_postgres::Error,
    deadpool_postgres::PoolError,
    raptor_actors::audit::AppendError
);

/// The order `request` (a ledger row's canonical text) becomes with `draft`'s changes.
pub fn merge(request: &str, draft: &ReplaceDraft) -> Result<OrderRequest, InvalidInput> {
    let mut p = Problems::default();
    let changes = [draft.qty, draft.limit_price, draft.stop_price, draft.trail];
    if changes.iter().all(Option::is_none) && draft.time_in_force.is_none() {
        p.add(
            "body",
            "give at least one of qty, limit_price, stop_price, trail, time_in_force",
        );
    }
    let mut merged: OrderDraft = serde_json::from_str(request)
        .map_err(|_| InvalidInput::single("id", "this order cannot be replaced here"))?;
    let trailing = merged.order_type.as_deref() == Some("trailing_stop");
    if draft.trail.is_some() && !trailing {
        p.add("trail", "is only for trailing_stop orders");
    }
    if draft.qty.is_some() && merged.notional.is_some() {
        p.add("qty", "a notional order cannot be given a qty");
    }
    p.finish(|| Some(()))?;
    merged.qty = draft.qty.or(merged.qty);
    merged.limit_price = draft.limit_price.or(merged.limit_price);
    merged.stop_price = draft.stop_price.or(merged.stop_price);
    merged.time_in_force = draft.time_in_force.clone().or(merged.time_in_force);
    if let Some(trail) = draft.trail {
        // The trail is in the trailing stop's own terms: a price, or a percent.
        match merged.trail_percent {
            Some(_) => merged.trail_percent = Some(trail),
            None => merged.trail_price = Some(trail),
        }
    }
    OrderRequest::try_from(merged)
}

/// Replaces the caller's open order `id` (Alpaca's order id) as `draft` says.
pub async fn replace_order(
    trading: Trading<'_>,
    trader: &Trader,
    header_key: Option<&str>,
    id: &str,
    draft: ReplaceDraft,
) -> Result<Submitted, ReplaceError> {
    super::account::ensure_enabled(&trading).await?;
    let order_id = OrderId::parse(id).map_err(|_| ReplaceError::NotFound)?;
    let alpaca_id = order_id.to_string();
    let key = match (header_key, draft.client_order_id.as_deref()) {
        (Some(raw), _) | (None, Some(raw)) => Some(
            IdempotencyKey::parse(raw)
                .map_err(|problem| InvalidInput::single("Idempotency-Key", problem))?,
        ),
        (None, None) => None,
    };
    let _slot = InFlight::acquire(trader.user_id).ok_or(SubmitError::TooManyInFlight {
        retry_after: in_flight::RETRY_AFTER,
    })?;
    let (old_row, request, open) = {
        let client = trading.pool.get().await?;
        ledger::own_order(&client, trader.user_id, &alpaca_id)
            .await?
            .ok_or(ReplaceError::NotFound)?
    };
    let client_order_id = match &key {
        Some(key) => ClientOrderId::for_replacement(trader.user_id, &alpaca_id, key),
        None => ClientOrderId::random(),
    };
    if key.is_some() {
        let client = trading.pool.get().await?;
        let seen = ledger::find(&client, trader.user_id, &client_order_id).await?;
        if let Some(row) = seen {
            return replay(&row);
        }
    }
    if !open {
        return Err(ReplaceError::NotOpen);
    }
    let order = merge(&request, &draft)?;
    trading
        .lane_share
        .take(trader.user_id)
        .map_err(|retry_after| SubmitError::TooManyInFlight { retry_after })?;
    let estimate = checked(&trading, trader, &order).await?;
    let replacement = Replacement {
        trading,
        trader,
        order: &order,
        client_order_id: &client_order_id,
        row_id: Uuid::new_v4(),
        claim_id: Uuid::new_v4(),
        old_row,
        order_id,
    };
    replacement.claim(&estimate).await?;
    replacement.send(&draft).await
}

/// A replacement already recorded under this key, again.
fn replay(row: &ledger::LedgerOrder) -> Result<Submitted, ReplaceError> {
    match row.status {
        LedgerStatus::Accepted | LedgerStatus::Canceled => Ok(replay_accepted(row)?),
        LedgerStatus::Rejected => Err(replay_rejected(row).into()),
        _ => Err(SubmitError::InProgress {
            retry_after: std::time::Duration::from_secs(1),
        }
        .into()),
    }
}

/// The asset and risk checks of `order`, as for a new order (a refusal is audited).
async fn checked(
    trading: &Trading<'_>,
    trader: &Trader,
    order: &OrderRequest,
) -> Result<Estimate, ReplaceError> {
    let asset = match assets::for_order(trading, order).await? {
        Ok(asset) => asset,
        Err(NotTradable::Asset(message)) => return Err(SubmitError::NotTradable(message).into()),
        Err(NotTradable::Invalid(problems)) => return Err(problems.into()),
    };
    match risk::check_order(trading.risk, trading.market_data, order, &asset.class).await {
        Ok(estimate) => Ok(estimate),
        Err(RiskError::Refused(refusal)) => {
            risk::audit_refusal(trading, trader, order, &refusal).await;
            Err(SubmitError::RiskLimit(refusal).into())
        }
        Err(RiskError::NoPrice { symbol }) => Err(SubmitError::NoPrice { symbol }.into()),
        Err(RiskError::Invalid(problems)) => Err(problems.into()),
    }
}

mod steps;
use steps::Replacement;

#[cfg(test)]
mod tests;
