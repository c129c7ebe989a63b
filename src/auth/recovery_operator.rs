//! `raptor recovery create`: a recovery link an operator hands to a person who contacted
//! support ([`create_operator_link`]: find the account, audit, store). The token is printed
//! once and stored only as an HMAC; like an emailed one, it supersedes the account's unused
//! tokens and is finished through `recovery/options` and `recovery/verify`.
//!
//! Audited first, as an operator action (`recovery.requested` naming the account as subject):
//! no stored token lacks its row.

use chrono::{DateTime, Utc};
use deadpool_postgres::Pool;
use raptor_actors::audit::{AppendError, AuditClient};
use raptor_actors::token::{self, TokenHasher};
use secrecy::{ExposeSecret, SecretString};
use uuid::Uuid;

use super::letters::RECOVER_PURPOSE;
use super::repo::{recoveries, users};
use super::{storage_errors, Email};
use crate::audit::AuditEvent;
use crate::db::StorageError;

/// Why no link was created.
#[derive(Debug, thiserror::Error)]
pub enum CreateLinkError {
    /// The address names no verified, active account.
    #[error("no verified, active account has this address")]
    NoSuchAccount,
    /// The audit row could not be made durable; nothing was stored.
    #[error("the audit row could not be written; nothing was changed")]
    Audit(#[from] AppendError),
    /// The database failed.
    #[error(transparent)]
    Storage(#[from] StorageError),
}
storage_errors!(CreateLinkError);

/// A recovery link an operator hands to a person who contacted support.
pub struct OperatorLink {
    /// The account it recovers.
    pub user_id: Uuid,
    /// The stored token's id.
    pub token_id: Uuid,
    /// When it stops working.
    pub expires_at: DateTime<Utc>,
    /// The token, to be shown once.
    pub token: SecretString,
}

/// What an operator's link needs: the database, the audit trail and the token key.
pub struct LinkMaker<'a> {
    /// Where the account is found and the token stored.
    pub pool: &'a Pool,
    /// Where the link's creation is audited.
    pub audit: &'a AuditClient,
    /// Keys the stored HMAC.
    pub hasher: &'a TokenHasher,
}

/// `raptor recovery create`: finds the active account `email` names, audits the link's
/// creation, then stores a token valid for `ttl` (superseding the account's unused ones).
pub async fn create_operator_link(
    maker: &LinkMaker<'_>,
    email: &Email,
    ttl: chrono::Duration,
    now: DateTime<Utc>,
) -> Result<OperatorLink, CreateLinkError> {
    let user_id = account_for_link(maker.pool, email).await?;
    let mut entry = AuditEvent::RecoveryRequested.entry();
    entry.subject = Some(user_id.to_string());
    entry.details = serde_json::json!({
        "channel": "operator",
        "outcome": "link_created",
        "expires_at": now + ttl,
        "source": "cli",
    });
    maker.audit.append(entry).await?;
    create_recovery_link(maker.pool, maker.hasher, user_id, ttl, now).await
}

/// The active account `email` names.
async fn account_for_link(pool: &Pool, email: &Email) -> Result<Uuid, CreateLinkError> {
    match users::by_email(&pool.get().await?, email).await? {
        Some(user) if user.is_active() => Ok(user.id),
        _ => Err(CreateLinkError::NoSuchAccount),
    }
}

/// Mints a token for `user_id` valid for `ttl`, superseding the account's unused ones; only its
/// HMAC is stored.
async fn create_recovery_link(
    pool: &Pool,
    hasher: &TokenHasher,
    user_id: Uuid,
    ttl: chrono::Duration,
    now: DateTime<Utc>,
) -> Result<OperatorLink, CreateLinkError> {
    let token = token::mint();
    let digest = hasher.digest(RECOVER_PURPOSE, token.expose_secret());
    let expires_at = now + ttl;
    let mut client = pool.get().await?;
    let tx = client.transaction().await?;
    match users::lock(&tx, user_id).await? {
        Some(u) if u.is_active() => {}
        _ => return Err(CreateLinkError::NoSuchAccount),
    }
    let token_id = recoveries::store(&tx, user_id, &digest, now, expires_at).await?;
    tx.commit().await?;
    Ok(OperatorLink {
        user_id,
        token_id,
        expires_at,
        token,
    })
}
