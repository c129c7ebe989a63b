//! [`erase_account`]: the one erasure, for the customer (`DELETE /api/account`) and the operator
//! (`raptor dsr erase`).
//!
//! The account's open orders are cancelled at the broker first (best effort, counted in the
//! row: `crate::trading::erasure`). Then audit: the `dsr.erase` row is durable before the
//! account is touched, so no committed
//! erasure lacks its row (if the row cannot be written, nothing is erased). The erasure then
//! commits in its own short transaction, and only then are the sessions ended, because from the
//! commit on no session of the account validates against the database anyway. No step holds a
//! connection while it awaits the audit writer or the session store.
//!
//! If the transaction fails after the row is written, the row records a request that was not
//! carried out; the caller gets an error and asks again, which writes a new row. Asking again
//! after a success is harmless: an account already erased is not audited again, only its
//! leftover sessions are ended.

use chrono::{DateTime, Utc};
use raptor_actors::audit::AuditEntry;
use serde_json::json;
use uuid::Uuid;

use super::repo::{self, Marked};
use super::{stamp_operator, DataSubject, DsrDeps, DsrError, Origin, Reason};
use crate::audit::AuditEvent;
use crate::retention::purge_after;
use crate::trading::erasure::cancel_open_orders;

/// Who asks for an erasure.
#[derive(Debug, Clone)]
pub enum EraseRequester {
    /// The person themself, signed in: the row names them as actor.
    Customer(Origin),
    /// An operator (`raptor dsr erase`): the row names the person as subject, with the reason.
    Operator(Reason),
}

/// What [`erase_account`] did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Erased {
    /// The account is erased now and its sessions are ended on every dyno.
    Now {
        user_id: Uuid,
        passkeys_removed: u64,
        sessions_ended: usize,
        purge_after: DateTime<Utc>,
    },
    /// It was erased before (nothing audited again); any session left over is ended now.
    AlreadyErased {
        user_id: Uuid,
        deleted_at: DateTime<Utc>,
        sessions_ended: usize,
    },
}

/// Erases the account `subject` names: audit row, erasure, sessions, in that order.
pub async fn erase_account(
    deps: &DsrDeps<'_>,
    subject: DataSubject,
    by: EraseRequester,
) -> Result<Erased, DsrError> {
    let account = {
        let client = deps.pool.get().await?;
        repo::find(&client, &subject).await?
    }
    .ok_or(DsrError::NoSuchAccount)?;
    let user_id = account.user_id;
    if let Some(deleted_at) = account.deleted_at {
        return already_erased(deps, user_id, deleted_at).await;
    }

    // Open orders first: nothing the person placed keeps trading after they are gone.
    let canceled =
        cancel_open_orders(deps.pool, deps.audit, &deps.canceler, user_id, deps.now).await?;
    let purge_after = purge_after(deps.now);
    let mut row = entry(&by, user_id, account.passkeys, purge_after);
    row.details["open_orders_canceled"] = canceled.canceled.into();
    row.details["open_orders_not_canceled"] = canceled.failed.into();
    deps.audit.append(row).await?;

    let marked = {
        let mut client = deps.pool.get().await?;
        let tx = client.transaction().await?;
        let marked = repo::mark_erased(&tx, user_id, deps.now).await?;
        tx.commit().await?;
        marked
    };
    let passkeys_removed = match marked {
        Marked::Erased { passkeys_removed } => passkeys_removed,
        // Another request erased it between our read and our transaction.
        Marked::AlreadyErased { deleted_at } => {
            return already_erased(deps, user_id, deleted_at).await
        }
        Marked::NoSuchUser => return Err(DsrError::NoSuchAccount),
    };
    if i64::try_from(passkeys_removed).ok() != Some(account.passkeys) {
        tracing::warn!(
            %user_id,
            audited = account.passkeys,
            removed = passkeys_removed,
            "passkeys changed between the erasure's audit row and its transaction"
        );
    }
    let sessions_ended = end_sessions(deps, user_id).await?;
    Ok(Erased::Now {
        user_id,
        passkeys_removed,
        sessions_ended,
        purge_after,
    })
}

async fn already_erased(
    deps: &DsrDeps<'_>,
    user_id: Uuid,
    deleted_at: DateTime<Utc>,
) -> Result<Erased, DsrError> {
    // A previous request may have stopped before the sessions were ended.
    let sessions_ended = end_sessions(deps, user_id).await?;
    Ok(Erased::AlreadyErased {
        user_id,
        deleted_at,
        sessions_ended,
    })
}

/// The `dsr.erase` row, written before the erasure.
fn entry(
    by: &EraseRequester,
    user_id: Uuid,
    passkeys: i64,
    purge_after: DateTime<Utc>,
) -> AuditEntry {
    let mut entry = AuditEvent::DsrErase.entry();
    entry.subject = Some(user_id.to_string());
    entry.details = json!({
        "passkeys_removed": passkeys,
        "purge_after": purge_after,
    });
    match by {
        EraseRequester::Customer(origin) => {
            origin.stamp(&mut entry);
            entry.actor_user_id = Some(user_id);
        }
        EraseRequester::Operator(reason) => {
            entry.details["reason"] = reason.as_str().into();
            stamp_operator(&mut entry);
        }
    }
    entry
}

/// Ends every session of the account on every dyno: through the session store when this process
/// runs one (it evicts its cache at once and notifies the others), else (or if it fails) in SQL
/// with the notification every store listens for. How many were live.
async fn end_sessions(deps: &DsrDeps<'_>, user_id: Uuid) -> Result<usize, DsrError> {
    if let Some(store) = deps.sessions {
        match store.revoke_all(user_id, None).await {
            Ok(ended) => return Ok(ended),
            Err(error) => {
                tracing::warn!(
                    %user_id,
                    %error,
                    "session store unavailable during erasure; revoking directly"
                );
            }
        }
    }
    raptor_actors::session::revoke(deps.pool, user_id, None, None, deps.now)
        .await
        .map(|ended| ended.len())
        .map_err(DsrError::SessionsNotEnded)
}
