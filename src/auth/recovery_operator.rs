//! `raptor recovery create`: a recovery link an operator hands to a person who contacted
//! support ([`account_for_link`], then [`create_recovery_link`] once the command has audited
//! it). The token is printed once and stored only as an HMAC; like an emailed one, it
//! supersedes the account's unused tokens and is finished through `recovery/options` and
//! `recovery/verify`.

use raptor_actors::mailer::RECOVER_PURPOSE;
use raptor_actors::token;
use secrecy::{ExposeSecret, SecretString};
use uuid::Uuid;

use super::repo::{recoveries, users};
use super::{storage_errors, Email};
use crate::db::StorageError;

#[derive(Debug, thiserror::Error)]
pub enum CreateLinkError {
    #[error("no verified, active account has this address")]
    NoSuchAccount,
    #[error(transparent)]
    Storage(#[from] StorageError),
}
storage_errors!(CreateLinkError);

/// A recovery link an operator hands to a person who contacted support.
pub struct OperatorLink {
    pub user_id: Uuid,
    pub token_id: Uuid,
    pub expires_at: chrono::DateTime<chrono::Utc>,
    pub token: SecretString,
}

/// The active account `email` names (the operator's command audits it before it creates).
pub async fn account_for_link(
    pool: &deadpool_postgres::Pool,
    email: &Email,
) -> Result<Uuid, CreateLinkError> {
    match users::by_email(&pool.get().await?, email).await? {
        Some(user) if user.is_active() => Ok(user.id),
        _ => Err(CreateLinkError::NoSuchAccount),
    }
}

/// `raptor recovery create`: mints a token for `user_id` valid for `ttl`, superseding the
/// account's unused ones; only its HMAC is stored.
pub async fn create_recovery_link(
    pool: &deadpool_postgres::Pool,
    hasher: &raptor_actors::token::TokenHasher,
    user_id: Uuid,
    ttl: chrono::Duration,
    now: chrono::DateTime<chrono::Utc>,
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
