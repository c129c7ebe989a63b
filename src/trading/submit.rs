//! `submit_order`: place an order at most once per idempotency key, without waiting while
//! holding anything.
//!
//! The protocol (docs/trading.md):
//! 1. **Claim.** One short statement inserts the ledger row as `submitting` under a fresh claim
//!    id (or takes over a `pending` row, or a `submitting` one whose claim is older than
//!    [`claim_lifetime`]). The connection goes back to the pool at once.
//! 2. **Reconcile.** A row that was not new may have reached the broker before: the broker is
//!    asked for its client order id, and an order found there is recorded, not sent again.
//! 3. **Intent.** `order.submit.requested` is made durable before the broker is called.
//! 4. **Call** the broker, holding no connection, lock or transaction.
//! 5. **Record.** `order.submit.accepted` or `order.submit.rejected` is audited, then the
//!    outcome is stored under the claim in a second short statement. When the answer is lost
//!    (timeout) or nothing was sent, the claim is given back (`pending`) and the next attempt
//!    reconciles first. An order the broker accepted is always answered 201, even when its
//!    outcome cannot be audited or stored: the row then stays unsettled and is reconciled.
//!
//! Before the claim, the caller's book is opened if it is new, the order is checked against its
//! asset ([`super::assets::for_order`]: known, tradable, fractions and notionals as Alpaca
//! allows) and priced and checked ([`super::risk`]); the book and count limits are checked inside the claim's
//! transaction under the user's order lock.
//!
//! An identical submission that finds the row claimed waits (bounded) for the outcome and
//! replays it. Each user has at most [`MAX_IN_FLIGHT`](super::in_flight::MAX_IN_FLIGHT)
//! submissions in flight per process.

use std::time::Duration;

use raptor_actors::broker::{refusal, BrokerError, BrokerJson};
use uuid::Uuid;

use super::assets::{self, NotTradable};
use super::error::SubmitError;
use super::ids::{ClientOrderId, IdempotencyKey};
use super::in_flight::{self, InFlight};
use super::ledger::limits::{self, Caps, Claimed};
use super::ledger::{self, LedgerOrder, LedgerStatus, NewOrder};
use super::order::{OrderDraft, OrderRequest, Submission};
use super::risk::{self, Estimate, RiskError};
use super::{Trader, Trading};

mod attempt;
use attempt::Attempt;

/// How often a submission waiting for an identical one re-reads the ledger.
const POLL_EVERY: Duration = Duration::from_millis(50);
/// Slack on top of a broker call and two audit appends before a claim counts as abandoned.
pub(crate) const CLAIM_SLACK: Duration = Duration::from_secs(30);

/// A placed order: the broker's body as received, and whether it repeats an earlier outcome.
#[derive(Debug, Clone)]
pub struct Submitted {
    pub body: BrokerJson,
    pub replayed: bool,
}

/// How long a claim protects a submission in flight: after this, its holder is presumed gone
/// (crashed, restarted) and the next attempt reconciles against the broker.
pub fn claim_lifetime(trading: &Trading<'_>) -> Duration {
    trading.broker.call_timeout() + CLAIM_SLACK
}

/// Places `draft` for `trader`: 422 problems, a replay of the first outcome under the same
/// idempotency key (`Idempotency-Key` header text, else the body's `client_order_id`), or the
/// broker's answer.
pub async fn submit_order(
    trading: Trading<'_>,
    trader: &Trader,
    header_key: Option<&str>,
    draft: OrderDraft,
) -> Result<Submitted, SubmitError> {
    super::account::ensure_enabled(&trading).await?;
    let Submission { order, key } = Submission::parse(header_key, draft)?;
    let _slot = InFlight::acquire(trader.user_id).ok_or(SubmitError::TooManyInFlight {
        retry_after: in_flight::RETRY_AFTER,
    })?;
    trading
        .lane_share
        .take(trader.user_id)
        .map_err(|retry_after| SubmitError::TooManyInFlight { retry_after })?;
    let client_order_id = match &key {
        Some(key) => ClientOrderId::for_key(trader.user_id, key),
        None => ClientOrderId::random(),
    };
    let estimate = pre_trade(&trading, trader, &order, key.is_some(), &client_order_id).await?;
    let mut attempt = Attempt {
        trading,
        trader,
        order: &order,
        client_order_id: &client_order_id,
        row_id: Uuid::new_v4(),
        claim_id: Uuid::new_v4(),
    };
    match claim(&attempt, key.as_ref(), &estimate).await? {
        Claimed::Inserted => attempt.send().await,
        // Someone submitted under this key before: replay, wait, or take over.
        Claimed::Exists => replay_or_take_over(&mut attempt).await,
        Claimed::Refused(refusal) => {
            Err(refused(&trading, trader, &order, RiskError::Refused(refusal)).await)
        }
        Claimed::NotReplaceable => Err(SubmitError::Corrupt("a new order replaced one")),
    }
}

/// The checks before the claim: the asset's rules and the risk checks, after opening the book
/// if it is new. A retry under a key already used replays (or settles) the first submission:
/// the limits were checked then, and a price that is gone now must not stop the replay, so it
/// is answered from its row before any check (`claim_within` finds it first).
async fn pre_trade(
    trading: &Trading<'_>,
    trader: &Trader,
    order: &OrderRequest,
    keyed: bool,
    client_order_id: &ClientOrderId,
) -> Result<Estimate, SubmitError> {
    if keyed {
        let client = trading.pool.get().await?;
        if ledger::find(&client, trader.user_id, client_order_id)
            .await?
            .is_some()
        {
            return Ok(Estimate::default());
        }
    }
    super::account::ensure_book(trading, trader.user_id).await?;
    let asset = match assets::for_order(trading, order).await? {
        Ok(asset) => asset,
        Err(NotTradable::Asset(message)) => return Err(SubmitError::NotTradable(message)),
        Err(NotTradable::Invalid(problems)) => return Err(problems.into()),
    };
    match risk::check_order(trading.risk, trading.market_data, order, &asset.class).await {
        Ok(estimate) => Ok(estimate),
        Err(error) => Err(refused(trading, trader, order, error).await),
    }
}

/// Claims the attempt's row within the user's limits (one short transaction).
async fn claim(
    attempt: &Attempt<'_>,
    key: Option<&IdempotencyKey>,
    estimate: &Estimate,
) -> Result<Claimed, SubmitError> {
    let trading = &attempt.trading;
    let caps = Caps {
        max_open: trading.risk.max_open_orders,
        max_per_day: trading.risk.max_orders_per_day,
    };
    let mut client = trading.pool.get().await?;
    let new = NewOrder {
        id: attempt.row_id,
        user_id: attempt.trader.user_id,
        key,
        client_order_id: attempt.client_order_id,
        order: attempt.order,
        claim_id: attempt.claim_id,
        now: trading.clock.now(),
        estimate,
        replaces: None,
    };
    let claimed = limits::claim_within(&mut client, new, caps).await?;
    trading.books.forget(attempt.trader.user_id);
    Ok(claimed)
}

/// An identical submission came first: replay its outcome, wait (bounded) while it is in
/// flight, or take over a claim given back or gone stale and reconcile before sending.
async fn replay_or_take_over(attempt: &mut Attempt<'_>) -> Result<Submitted, SubmitError> {
    let trading = attempt.trading;
    let user_id = attempt.trader.user_id;
    let deadline = tokio::time::Instant::now() + trading.broker.call_timeout() + POLL_EVERY;
    let in_progress = || SubmitError::InProgress {
        retry_after: Duration::from_secs(1),
    };
    loop {
        let row = {
            let client = trading.pool.get().await?;
            ledger::find(&client, user_id, attempt.client_order_id).await?
        }
        .ok_or(SubmitError::Corrupt("a claimed order has no ledger row"))?;
        if row.request != attempt.order.canonical_json() {
            return Err(SubmitError::KeyReused);
        }
        let waited_out = tokio::time::Instant::now() >= deadline;
        match row.status {
            LedgerStatus::Accepted | LedgerStatus::Canceled => return replay_accepted(&row),
            LedgerStatus::Rejected => return Err(replay_rejected(&row).into()),
            LedgerStatus::Submitting { claimed_at, .. } if !is_stale(&trading, claimed_at) => {
                if waited_out {
                    return Err(in_progress());
                }
            }
            seen @ (LedgerStatus::Pending | LedgerStatus::Submitting { .. }) => {
                let taken = {
                    let client = trading.pool.get().await?;
                    let now = trading.clock.now();
                    ledger::take_over(&client, row.id, seen, attempt.claim_id, now).await?
                };
                if taken {
                    attempt.row_id = row.id;
                    return attempt.reconcile_then_send().await;
                }
                // Someone else took it over first: wait for their outcome like any other.
                if waited_out {
                    return Err(in_progress());
                }
            }
        }
        tokio::time::sleep(POLL_EVERY).await;
    }
}

/// A risk refusal, audited (`order.submit.refused`); nothing was recorded or sent.
async fn refused(
    trading: &Trading<'_>,
    trader: &Trader,
    order: &OrderRequest,
    error: RiskError,
) -> SubmitError {
    match error {
        RiskError::Refused(refusal) => {
            risk::audit_refusal(trading, trader, order, &refusal).await;
            SubmitError::RiskLimit(refusal)
        }
        RiskError::NoPrice { symbol } => SubmitError::NoPrice { symbol },
        RiskError::Invalid(problems) => problems.into(),
    }
}

fn is_stale(trading: &Trading<'_>, claimed_at: chrono::DateTime<chrono::Utc>) -> bool {
    let age = trading.clock.now() - claimed_at;
    age.to_std().is_ok_and(|age| age > claim_lifetime(trading))
}

/// The first submission's accepted order, again.
pub(super) fn replay_accepted(row: &LedgerOrder) -> Result<Submitted, SubmitError> {
    let body = row
        .broker_body
        .clone()
        .ok_or(SubmitError::Corrupt("an accepted order has no broker body"))?;
    let body = BrokerJson::parse(body)
        .map_err(|_| SubmitError::Corrupt("an accepted order's body is not JSON"))?;
    Ok(Submitted {
        body,
        replayed: true,
    })
}

/// The first submission's refusal, again.
pub(super) fn replay_rejected(row: &LedgerOrder) -> BrokerError {
    let status = row
        .broker_status
        .and_then(|s| u16::try_from(s).ok())
        .unwrap_or(422);
    refusal(status, row.broker_body.as_deref().unwrap_or(""))
}
