//! The operator's side of the paper books (`raptor book show|adjust|reconcile`), one use case
//! each: find the account by its address, audit what is read or changed (operator rows, source
//! `cli`), and answer in domain types the command prints.

use chrono::{DateTime, Utc};
use deadpool_postgres::Pool;
use raptor_actors::audit::{AppendError, AuditClient};
use raptor_actors::broker::config::BrokerConfig;
use rust_decimal::Decimal;
use serde::Serialize;
use serde_json::json;
use uuid::Uuid;

use super::drift::{self, Drift};
use super::{repo, OpenError};
use crate::audit::AuditEvent;
use crate::auth::Email;
use crate::db::{storage_errors, StorageError};

/// Why an operator's book command did nothing.
#[derive(Debug, thiserror::Error)]
pub enum OperatorError {
    /// No account has the address.
    #[error("no account has this email address")]
    NoAccount,
    /// The account has no book yet.
    #[error("this account has no book yet (it opens with the first trading request)")]
    NoBook,
    /// The audit row could not be made durable; nothing was read or changed.
    #[error("the audit row could not be written; nothing was changed")]
    Audit(#[from] AppendError),
    /// The database failed.
    #[error(transparent)]
    Storage(#[from] StorageError),
}
storage_errors!(OperatorError);

impl From<OpenError> for OperatorError {
    fn from(error: OpenError) -> Self {
        match error {
            OpenError::Audit(e) => Self::Audit(e),
            OpenError::Storage(e) => Self::Storage(e),
        }
    }
}

/// A book as `raptor book show` prints it (amounts as decimal strings).
#[derive(Debug, Clone, Serialize)]
pub struct BookReport {
    /// The account.
    pub user_id: Uuid,
    /// The book's currency.
    pub currency: String,
    /// Cash it opened with.
    pub initial_cash: String,
    /// Cash now.
    pub cash: String,
    /// Cash held back by open buy orders.
    pub reserved_by_open_buys: String,
    /// Every position, flat ones included.
    pub positions: Vec<PositionLine>,
}

/// One position of a [`BookReport`].
#[derive(Debug, Clone, Serialize)]
pub struct PositionLine {
    /// The symbol.
    pub symbol: String,
    /// Shares held (negative: short).
    pub qty: String,
    /// What the shares held cost.
    pub cost_basis: String,
    /// Profit or loss realized so far.
    pub realized_pl: String,
}

/// `raptor book show`: the book of the account `email` names, audited as `user.pii_access`
/// before it is read.
pub async fn show(
    pool: &Pool,
    audit: &AuditClient,
    email: &Email,
) -> Result<BookReport, OperatorError> {
    let user_id = account(pool, email).await?;
    let mut entry = AuditEvent::UserPiiAccess.entry();
    entry.subject = Some(user_id.to_string());
    entry.details = json!({ "what": "book", "source": "cli" });
    audit.append(entry).await?;
    let client = pool.get().await?;
    let found = repo::book(&client, user_id)
        .await?
        .ok_or(OperatorError::NoBook)?;
    let positions = repo::positions(&client, user_id, true)
        .await?
        .into_iter()
        .map(|p| PositionLine {
            symbol: p.symbol,
            qty: p.qty.to_string(),
            cost_basis: p.cost_basis.to_string(),
            realized_pl: p.realized_pl.to_string(),
        })
        .collect();
    let reserved = repo::reserved(&client, user_id).await?;
    Ok(BookReport {
        user_id,
        currency: found.currency,
        initial_cash: found.initial_cash.to_string(),
        cash: found.cash.to_string(),
        reserved_by_open_buys: reserved.buys.to_string(),
        positions,
    })
}

/// A cash adjustment made.
#[derive(Debug, Clone, Copy)]
pub struct Adjusted {
    /// The account.
    pub user_id: Uuid,
    /// Its cash now.
    pub cash: Decimal,
}

/// `raptor book adjust`: adds `delta` to the cash of the account `email` names, for `reason`
/// (audited as `book.adjust` first, by [`super::adjust`]).
pub async fn adjust_cash(
    pool: &Pool,
    audit: &AuditClient,
    email: &Email,
    delta: Decimal,
    reason: &str,
    now: DateTime<Utc>,
) -> Result<Adjusted, OperatorError> {
    let user_id = account(pool, email).await?;
    let cash = super::adjust(pool, audit, user_id, delta, reason, now)
        .await?
        .ok_or(OperatorError::NoBook)?;
    Ok(Adjusted { user_id, cash })
}

/// Why the books could not be compared with Alpaca.
#[derive(Debug, thiserror::Error)]
pub enum ReconcileError {
    /// Alpaca's positions could not be read.
    #[error("Alpaca's positions could not be read: {0}")]
    Alpaca(String),
    /// Alpaca answered with something else than a list of positions.
    #[error("Alpaca's positions are not a list of positions")]
    NotPositions,
    /// The database failed.
    #[error(transparent)]
    Storage(#[from] StorageError),
}
storage_errors!(ReconcileError);

/// `raptor book reconcile`: every symbol whose books together and Alpaca's positions differ.
pub async fn reconcile(pool: &Pool, broker: &BrokerConfig) -> Result<Vec<Drift>, ReconcileError> {
    let positions = raptor_actors::broker::account_positions(broker)
        .await
        .map_err(|e| ReconcileError::Alpaca(e.to_string()))?;
    let alpaca = drift::alpaca_totals(positions.as_str()).ok_or(ReconcileError::NotPositions)?;
    let books = drift::book_totals(&pool.get().await?).await?;
    Ok(drift::drift(&books, &alpaca))
}

async fn account(pool: &Pool, email: &Email) -> Result<Uuid, OperatorError> {
    let client = pool.get().await?;
    let user = crate::auth::repo::users::by_email(&client, email).await?;
    Ok(user.ok_or(OperatorError::NoAccount)?.id)
}
