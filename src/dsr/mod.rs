//! Data-subject requests (GDPR access and erasure, SPEC §5): the one place that knows everything
//! Raptor holds about a person, and how an account is erased.
//!
//! Two use cases, each written once and called by both adapters:
//! - [`export`]: everything held about a person, audited before it is handed out (`dsr.export`
//!   when the customer asks through `GET /api/account/export`, `user.pii_access` when an operator
//!   runs `raptor dsr export`);
//! - [`erase_account`]: the customer's `DELETE /api/account` and the operator's
//!   `raptor dsr erase`. It writes the `dsr.erase` row first, then erases in its own
//!   transaction, then ends every session on every dyno; it is idempotent.
//!
//! Neither holds a pooled connection or a transaction while it awaits the audit writer or the
//! session store. Erasure is a soft delete: the account is marked `deleted_at`, its passkeys,
//! pending emails and unused tokens are removed at once, and the quarantine purge
//! (`crate::retention`) hard-deletes the user row 30 days later. Until then the address stays
//! taken, so it cannot be registered again. Audit rows name the user only by id, which becomes a
//! pseudonym once the user row is gone; they are never rewritten, so the hash chain stays
//! verifiable.
//!
//! [`records`] holds the export's shape, [`repo`] its SQL ([`activity`]: backtest runs and
//! security notices; [`book`]: the paper book).

mod activity;
pub mod backtests;
pub mod book;
mod erase;
mod export;
pub mod records;
pub mod repo;

use chrono::{DateTime, Utc};
use deadpool_postgres::Pool;
use raptor_actors::audit::{AppendError, AuditClient, AuditEntry};
use raptor_actors::session::{SessionClient, SessionError};
use uuid::Uuid;

use crate::auth::Email;
use crate::db::StorageError;

pub use erase::{erase_account, EraseRequester, Erased};
pub use export::{export, ExportRequester};
pub use records::Export;

/// What a data-subject use case needs.
#[derive(Clone, Copy)]
pub struct DsrDeps<'a> {
    pub pool: &'a Pool,
    pub audit: &'a AuditClient,
    /// The session store, in a process that runs one (web, dev). Without it (operator
    /// commands), sessions are revoked in SQL with the notification every store listens for.
    pub sessions: Option<&'a SessionClient>,
    /// Cancels an erased account's open orders at the broker first.
    pub canceler: crate::trading::erasure::Canceler<'a>,
    pub now: DateTime<Utc>,
}

/// The person a request is about.
#[derive(Debug, Clone)]
pub enum DataSubject {
    /// The signed-in customer.
    User(Uuid),
    /// Whoever registered this address (an operator acting on a request received by email).
    Email(Email),
}

pub use crate::audit::Origin;

/// Why an operator acts, for the audit trail: a ticket reference, not personal data.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Reason(String);

/// The reason was empty.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("a reason is required (a ticket reference, not personal data)")]
pub struct MissingReason;

impl Reason {
    pub fn parse(raw: &str) -> Result<Self, MissingReason> {
        let reason = raw.trim();
        if reason.is_empty() {
            return Err(MissingReason);
        }
        Ok(Self(reason.to_owned()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// Operators act through `raptor` commands only; their rows say so in `details.source`.
fn stamp_operator(entry: &mut AuditEntry) {
    if let Some(details) = entry.details.as_object_mut() {
        details.insert("source".into(), "cli".into());
    }
}

/// A data-subject request could not be carried out.
#[derive(Debug, thiserror::Error)]
pub enum DsrError {
    /// No account matches the request (or it was purged).
    #[error("no account was found for this person")]
    NoSuchAccount,
    #[error(transparent)]
    Storage(#[from] StorageError),
    /// The audit row could not be made durable, so nothing was changed or handed out.
    #[error("the audit row could not be written; nothing was done")]
    Audit(#[from] AppendError),
    /// The account is erased, but its sessions could not be ended; running the request again
    /// ends them.
    #[error("the account is erased but its sessions could not be ended ({0}); run it again")]
    SessionsNotEnded(SessionError),
}
crate::db::storage_errors!(DsrError);
