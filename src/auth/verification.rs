//! Proving an email address: [`verify_email`] (the link's token) and [`resend_verification`].
//!
//! Each link vouches for one pending passkey: using it makes that passkey the account's,
//! verifies the account and discards every other pending passkey (and their links). Whoever
//! holds the mailbox therefore decides whose passkey the account gets.

use super::letters::VERIFY_PURPOSE;
use raptor_actors::audit::AppendError;
use raptor_actors::token;
use uuid::Uuid;

use super::repo::{credentials, users, verifications};
use super::{storage_errors, Accounts, Email, Origin};
use crate::audit::AuditEvent;
use crate::db::StorageError;

/// Emails per address per hour that resend will queue.
pub const RESENDS_PER_ADDRESS_PER_HOUR: i64 = 3;

#[derive(Debug, thiserror::Error)]
pub enum VerifyEmailError {
    #[error("the link is unknown, used, expired or superseded")]
    InvalidToken,
    #[error(transparent)]
    Storage(#[from] StorageError),
    #[error(transparent)]
    Audit(#[from] AppendError),
}
storage_errors!(VerifyEmailError);

/// `email/verify`: uses the link and activates the account with the passkey it vouches for.
/// Returns the account's id.
pub async fn verify_email(
    accounts: &Accounts,
    origin: &Origin,
    token: &str,
) -> Result<Uuid, VerifyEmailError> {
    if !token::well_formed(token) {
        return Err(VerifyEmailError::InvalidToken);
    }
    let now = accounts.now();
    let digests = accounts.hasher.candidates(VERIFY_PURPOSE, token);
    let link = verifications::find_usable(&accounts.pool.get().await?, &digests, now)
        .await?
        .ok_or(VerifyEmailError::InvalidToken)?;
    accounts
        .audit(origin.audit(AuditEvent::EmailVerify, Some(link.user_id)))
        .await?;

    let mut client = accounts.pool.get().await?;
    let tx = client.transaction().await?;
    match users::lock(&tx, link.user_id).await? {
        Some(user) if !user.deleted => {}
        _ => return Err(VerifyEmailError::InvalidToken),
    }
    if !verifications::consume(&tx, link.id, now).await? {
        return Err(VerifyEmailError::InvalidToken);
    }
    match link.registration_id {
        // The passkey becomes the account's; or it already is (an older link of the same
        // sign-up).
        Some(registration) => {
            let promoted = credentials::promote(&tx, link.user_id, registration).await?;
            if !promoted && !credentials::is_usable(&tx, link.user_id, registration).await? {
                return Err(VerifyEmailError::InvalidToken);
            }
        }
        // A link that vouches for no passkey (an account created by an operator): it proves
        // the address, and no pending passkey is proven by it.
        None => credentials::discard_pending(&tx, link.user_id).await?,
    }
    users::mark_verified(&tx, link.user_id, now).await?;
    tx.commit().await?;
    Ok(link.user_id)
}

#[derive(Debug, thiserror::Error)]
pub enum ResendError {
    #[error(transparent)]
    Storage(#[from] StorageError),
}
storage_errors!(ResendError);

/// `email/resend`: queues a new link for an account still waiting for its address, vouching
/// for its one pending registration (not expired), at most [`RESENDS_PER_ADDRESS_PER_HOUR`] an hour. Does
/// nothing (and says nothing) for anything else; callers answer before it runs, so its timing
/// tells nobody whether the address has an account.
pub async fn resend_verification(accounts: &Accounts, email: &str) -> Result<(), ResendError> {
    let Ok(email) = Email::parse(email) else {
        return Ok(());
    };
    let now = accounts.now();
    let mut client = accounts.pool.get().await?;
    // One resend per address at a time, so concurrent ones cannot all pass the limit.
    let tx = client.transaction().await?;
    verifications::lock_address(&tx, email.as_str()).await?;
    let Some(user) = users::by_email(&tx, &email).await? else {
        return Ok(());
    };
    if !user.is_unclaimed() {
        return Ok(());
    }
    let since = super::register::pending_since(now);
    let Some(pending) = credentials::oldest_pending(&tx, user.id, since).await? else {
        return Ok(());
    };
    let since = now - chrono::Duration::hours(1);
    if verifications::recent_to(&tx, email.as_str(), since).await? >= RESENDS_PER_ADDRESS_PER_HOUR {
        return Ok(());
    }
    verifications::enqueue(&tx, user.id, email.as_str(), pending, now).await?;
    tx.commit().await?;
    accounts.actors.mailer.wake();
    Ok(())
}
