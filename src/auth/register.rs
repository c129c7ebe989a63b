//! Invite-only sign-up: [`start_registration`] and [`finish_registration`].
//!
//! A registration never attaches a passkey to an account: it stores the passkey *pending* and
//! queues a verification email that vouches for that passkey alone. The account (created
//! unverified by the registration) gets the passkey only when the link in that email is used
//! ([`super::verification::verify_email`]). An address has at most one pending registration: a
//! second one answers [`RegisterError::RegistrationPending`] until the first is verified or
//! expires ([`PENDING_REGISTRATION_DAYS`]), so nobody can slip a passkey in beside the owner's,
//! and a resent link always vouches for that one registration (issue 24, item 1). The options
//! reveal nothing about a pending registration: a fresh user handle and no excluded passkeys,
//! whether or not one waits. Verified and deleted accounts refuse registration outright.

use raptor_actors::audit::AppendError;
use uuid::Uuid;
use webauthn_rs::prelude::{PasskeyRegistration, RegisterPublicKeyCredential, WebauthnError};

use super::authenticators;
use super::ceremony::{self, CreationOptions, StartError};
use super::repo::{bootstrap, ceremonies, credentials, users, verifications};
use super::{storage_errors, Accounts, Email, Origin, PasskeysNotConfigured};
use crate::audit::AuditEvent;
use crate::db::StorageError;

/// Days a registration stays pending: until then the address takes no other registration,
/// and its link can be resent. An account never verified is purged this long after its last
/// registration (`crate::retention`).
pub const PENDING_REGISTRATION_DAYS: u32 = 7;

/// Pending passkeys made after this instant are still waiting for their link.
pub fn pending_since(now: chrono::DateTime<chrono::Utc>) -> chrono::DateTime<chrono::Utc> {
    now - chrono::Duration::days(PENDING_REGISTRATION_DAYS.into())
}

/// Why a registration step failed.
#[derive(Debug, thiserror::Error)]
pub enum RegisterError {
    #[error(transparent)]
    NotConfigured(#[from] PasskeysNotConfigured),
    #[error("not a valid email address")]
    InvalidEmail,
    #[error("the invitation is unknown, used, expired or bound to another address")]
    InvalidInvitation,
    #[error("the address belongs to an active or deleted account")]
    EmailTaken,
    #[error("a registration of this address is waiting for its email to be verified")]
    RegistrationPending,
    #[error("the ceremony is unknown, used or expired")]
    InvalidCeremony,
    #[error("the authenticator's answer was refused: {0}")]
    CredentialRefused(WebauthnError),
    #[error("this authenticator credential is registered already")]
    CredentialExists,
    #[error(transparent)]
    Start(#[from] StartError),
    #[error(transparent)]
    Storage(#[from] StorageError),
    #[error(transparent)]
    Audit(#[from] AppendError),
}
storage_errors!(RegisterError);

/// A registration stored, waiting for its email to be verified.
#[derive(Debug)]
pub struct Registered {
    pub user_id: Uuid,
    pub credential_id: String,
}

/// `register/options`: checks the invitation and starts a creation ceremony for the address.
pub async fn start_registration(
    accounts: &Accounts,
    email: &str,
    invitation: &str,
) -> Result<CreationOptions, RegisterError> {
    let webauthn = accounts.webauthn()?;
    let email = Email::parse(email).map_err(|_| RegisterError::InvalidEmail)?;
    let now = accounts.now();
    let client = accounts.pool.get().await?;
    let token_id = bootstrap::find_usable(&client, &accounts.hasher, invitation, &email, now)
        .await?
        .ok_or(RegisterError::InvalidInvitation)?;
    // The same answer whether or not a registration is pending: a fresh user handle and no
    // excluded passkeys. Only an account that owns the address refuses here.
    if users::by_email(&client, &email)
        .await?
        .is_some_and(|user| !user.is_unclaimed())
    {
        return Err(RegisterError::EmailTaken);
    }
    let creation = ceremony::Creation {
        user_id: Uuid::new_v4(),
        email: email.as_str(),
        exclude: Vec::new(),
        bootstrap_token_id: Some(token_id),
        recovery_token_id: None,
    };
    Ok(ceremony::start_creation(&client, webauthn, creation, now).await?)
}

/// `register/verify`: checks the new passkey, spends the invitation, creates the unverified
/// account, stores the passkey pending and queues the email that vouches for it.
/// `claimed_email`, when given, must be the ceremony's address. An address with a registration
/// still pending answers [`RegisterError::RegistrationPending`] and nothing changes.
pub async fn finish_registration(
    accounts: &Accounts,
    origin: &Origin,
    ceremony_id: Uuid,
    claimed_email: Option<&str>,
    credential: &RegisterPublicKeyCredential,
) -> Result<Registered, RegisterError> {
    let checked = check(accounts, ceremony_id, claimed_email, credential).await?;
    let Checked {
        passkey,
        user_id,
        email,
        token_id,
    } = checked;
    let credential_id = credentials::credential_key(&passkey);
    let aaguid = authenticators::aaguid(credential);
    let name = authenticators::name_of(aaguid).unwrap_or(authenticators::FALLBACK_NAME);

    // The intent is durable before anything changes; the transaction re-checks everything.
    let mut used = origin.audit(AuditEvent::BootstrapTokenUse, Some(user_id));
    used.subject = Some(token_id.to_string());
    accounts.audit(used).await?;
    let mut registered = origin.audit(AuditEvent::Register, Some(user_id));
    registered.details = serde_json::json!({ "credential_id": credential_id, "pending": true });
    accounts.audit(registered).await?;

    let now = accounts.now();
    let mut client = accounts.pool.get().await?;
    let tx = client.transaction().await?;
    if !bootstrap::consume(&tx, token_id, user_id, now).await? {
        return Err(RegisterError::InvalidInvitation);
    }
    claim_address(&tx, user_id, &email, now).await?;
    let pending = credentials::insert(&tx, user_id, &passkey, name, aaguid, true, now)
        .await?
        .ok_or(RegisterError::CredentialExists)?;
    verifications::enqueue(&tx, user_id, email.as_str(), pending, now).await?;
    tx.commit().await?;
    accounts.actors.mailer.wake();
    Ok(Registered {
        user_id,
        credential_id,
    })
}

/// What [`check`] found: a valid new passkey for a free address.
struct Checked {
    passkey: webauthn_rs::prelude::Passkey,
    user_id: Uuid,
    email: Email,
    token_id: Uuid,
}

/// The reads of `register/verify`: spends the ceremony (in its own statement, so it is spent
/// even if what follows fails), checks the passkey, and that the address takes a registration.
async fn check(
    accounts: &Accounts,
    ceremony_id: Uuid,
    claimed_email: Option<&str>,
    credential: &RegisterPublicKeyCredential,
) -> Result<Checked, RegisterError> {
    let webauthn = accounts.webauthn()?;
    let now = accounts.now();
    let client = accounts.pool.get().await?;
    let kinds = [ceremonies::Kind::Registration];
    let taken = ceremonies::take(&client, ceremony_id, &kinds, now)
        .await?
        .ok_or(RegisterError::InvalidCeremony)?;
    let (Some(user_id), Some(email), Some(token_id)) =
        (taken.user_id, taken.email, taken.bootstrap_token_id)
    else {
        return Err(RegisterError::InvalidCeremony);
    };
    let email = Email::parse(&email).map_err(|_| RegisterError::InvalidCeremony)?;
    if let Some(claimed) = claimed_email {
        let claimed = Email::parse(claimed).map_err(|_| RegisterError::InvalidEmail)?;
        if claimed != email {
            return Err(RegisterError::InvalidCeremony);
        }
    }
    let registration: PasskeyRegistration =
        serde_json::from_value(taken.state).map_err(|_| RegisterError::InvalidCeremony)?;
    let passkey = webauthn
        .finish_passkey_registration(credential, &registration)
        .map_err(RegisterError::CredentialRefused)?;
    if credentials::exists(&client, &credentials::credential_key(&passkey)).await? {
        return Err(RegisterError::CredentialExists);
    }
    if let Some(user) = users::by_email(&client, &email).await? {
        free_for_registration(&client, &user, now).await?;
    }
    Ok(Checked {
        passkey,
        user_id,
        email,
        token_id,
    })
}

/// An existing account leaves its address to a new registration only while it is unverified
/// and its registration has expired.
async fn free_for_registration(
    client: &impl deadpool_postgres::GenericClient,
    user: &users::User,
    now: chrono::DateTime<chrono::Utc>,
) -> Result<(), RegisterError> {
    if !user.is_unclaimed() {
        return Err(RegisterError::EmailTaken);
    }
    if credentials::oldest_pending(client, user.id, pending_since(now))
        .await?
        .is_some()
    {
        return Err(RegisterError::RegistrationPending);
    }
    Ok(())
}

/// In the registration's transaction: makes `user_id` the address's new unverified account. An
/// unverified account whose registration expired gives way (it is deleted with its pending
/// passkeys, links and emails); any other account keeps the address. The address's row stays
/// locked until the commit, so concurrent registrations and verifications of it queue here.
async fn claim_address(
    tx: &impl deadpool_postgres::GenericClient,
    user_id: Uuid,
    email: &Email,
    now: chrono::DateTime<chrono::Utc>,
) -> Result<(), RegisterError> {
    if let Some(user) = users::lock_by_email(tx, email).await? {
        free_for_registration(tx, &user, now).await?;
        users::delete_unclaimed(tx, user.id).await?;
    }
    if !users::insert(tx, user_id, email.as_str(), now).await? {
        // Another registration of the address committed first: it is pending now.
        return Err(RegisterError::RegistrationPending);
    }
    Ok(())
}
