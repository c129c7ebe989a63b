//! Creating an invitation to register (a bootstrap token): the one use case behind
//! `raptor bootstrap-token create` and the development invitation `raptor dev` prints.
//!
//! Audited before it is stored (`bootstrap_token.create`, subject the invitation's id, with the
//! command that asked as `source`): no stored invitation lacks its row, and one whose row cannot
//! be written is never stored. The token is returned once, to be shown once; only its HMAC is
//! kept ([`super::bootstrap`]).

use chrono::{DateTime, Utc};
use deadpool_postgres::Pool;
use raptor_actors::audit::{AppendError, AuditClient};
use raptor_actors::token::TokenHasher;

use super::repo::bootstrap::{self, Created};
use super::Email;
use crate::audit::AuditEvent;
use crate::db::{storage_errors, StorageError};

/// What to invite.
pub struct NewInvitation<'a> {
    /// Only this address may register with it; `None` lets any address register.
    pub email: Option<&'a Email>,
    /// How long it is valid.
    pub ttl: chrono::Duration,
    /// Who asked, for the audit trail: `cli` (an operator) or `dev` (`raptor dev`).
    pub source: &'static str,
}

/// Why no invitation was created.
#[derive(Debug, thiserror::Error)]
pub enum InvitationError {
    /// Its audit row could not be made durable; nothing was stored.
    #[error("the audit row could not be written; nothing was changed")]
    Audit(#[from] AppendError),
    /// The database failed (after the audit row was written: the row names an invitation that
    /// does not exist, never the other way round).
    #[error(transparent)]
    Storage(#[from] StorageError),
}
storage_errors!(InvitationError);

/// What an invitation needs: the database, the audit trail and the token key.
pub struct Inviter<'a> {
    /// Where the invitation is stored.
    pub pool: &'a Pool,
    /// Where its creation is audited.
    pub audit: &'a AuditClient,
    /// Keys the stored HMAC.
    pub hasher: &'a TokenHasher,
}

/// Creates an invitation: mint, audit, store. Returns it with its token, to be shown once.
pub async fn create(
    inviter: &Inviter<'_>,
    invitation: NewInvitation<'_>,
    now: DateTime<Utc>,
) -> Result<Created, InvitationError> {
    let created = bootstrap::mint(invitation.ttl, now);
    let mut entry = AuditEvent::BootstrapTokenCreate.entry();
    entry.subject = Some(created.id.to_string());
    entry.details = serde_json::json!({
        "expires_at": created.expires_at,
        "bound_to_email": invitation.email.is_some(),
        "source": invitation.source,
    });
    inviter.audit.append(entry).await?;
    let client = inviter.pool.get().await?;
    bootstrap::store(&client, inviter.hasher, &created, invitation.email, now).await?;
    Ok(created)
}
