//! A signed-in person's sessions: [`logout`], [`list_sessions`], [`revoke_session`] and
//! [`revoke_other_sessions`]. The session store actor owns sessions; these write the audit row
//! first and then ask it, so no revocation is committed without its row. Ending every other
//! session queues a security notice to the account.

use raptor_actors::audit::AppendError;
use raptor_actors::session::{SessionCallError, SessionInfo, SessionSummary};
use uuid::Uuid;

use super::notify::{self, Notice, Notify};
use super::Origin;
use super::{storage_errors, Accounts};
use crate::audit::AuditEvent;
use crate::db::StorageError;

#[derive(Debug, thiserror::Error)]
pub enum SessionsError {
    #[error("no such live session of yours")]
    NotFound,
    #[error(transparent)]
    Audit(#[from] AppendError),
    #[error(transparent)]
    Session(#[from] SessionCallError),
    #[error(transparent)]
    Storage(#[from] StorageError),
}
storage_errors!(SessionsError);

/// `logout`: ends the caller's current session on every instance.
pub async fn logout(
    accounts: &Accounts,
    origin: &Origin,
    me: &SessionInfo,
) -> Result<(), SessionsError> {
    let mut entry = origin.audit(AuditEvent::Logout, Some(me.user_id));
    entry.subject = Some(me.session_id.to_string());
    accounts.audit(entry).await?;
    accounts
        .actors
        .sessions
        .revoke(me.user_id, me.session_id)
        .await?;
    Ok(())
}

/// The caller's live sessions, newest first.
pub async fn list_sessions(
    accounts: &Accounts,
    me: &SessionInfo,
) -> Result<Vec<SessionSummary>, SessionsError> {
    Ok(accounts.actors.sessions.list(me.user_id).await?)
}

/// Ends one of the caller's own live sessions (possibly the current one).
pub async fn revoke_session(
    accounts: &Accounts,
    origin: &Origin,
    me: &SessionInfo,
    session_id: Uuid,
) -> Result<(), SessionsError> {
    let sessions = &accounts.actors.sessions;
    let live = sessions.list(me.user_id).await?;
    if !live.iter().any(|s| s.session_id == session_id) {
        return Err(SessionsError::NotFound);
    }
    let mut entry = origin.audit(AuditEvent::SessionRevoke, Some(me.user_id));
    entry.subject = Some(session_id.to_string());
    accounts.audit(entry).await?;
    if !sessions.revoke(me.user_id, session_id).await? {
        return Err(SessionsError::NotFound);
    }
    Ok(())
}

/// Ends every session of the caller but the current one; how many ended.
pub async fn revoke_other_sessions(
    accounts: &Accounts,
    origin: &Origin,
    me: &SessionInfo,
) -> Result<usize, SessionsError> {
    let sessions = &accounts.actors.sessions;
    let others = sessions
        .list(me.user_id)
        .await?
        .iter()
        .filter(|s| s.session_id != me.session_id)
        .count();
    let mut entry = origin.audit(AuditEvent::SessionRevokeOthers, Some(me.user_id));
    entry.details = serde_json::json!({ "revoked": others });
    accounts.audit(entry).await?;
    let revoked = sessions.revoke_all(me.user_id, Some(me.session_id)).await?;
    let notice = Notify {
        user_id: me.user_id,
        email: &me.email,
        notice: Notice::SessionsRevoked,
        passkey: None,
    };
    let client = accounts.pool.get().await?;
    notify::queue(&client, origin, notice, accounts.now()).await?;
    accounts.actors.mailer.wake();
    Ok(revoked)
}
