//! Invite-only sign-up: [`start_registration`] and [`finish_registration`].
//!
//! A registration never attaches a passkey to an account: it stores the passkey *pending* and
//! queues a verification email that vouches for that passkey alone. The account (created
//! unverified by the first registration of the address) gets a passkey only when the link in
//! that email is used ([`super::verification::verify_email`]), which also discards every other
//! party's pending passkey. So an invitation holder who types someone else's address can never
//! sign in as them: they do not receive the link. Verified and deleted accounts refuse
//! registration outright.

use raptor_actors::audit::AppendError;
use uuid::Uuid;
use webauthn_rs::prelude::{PasskeyRegistration, RegisterPublicKeyCredential, WebauthnError};

use super::authenticators;
use super::ceremony::{self, CreationOptions, StartError};
use super::repo::{bootstrap, ceremonies, credentials, users, verifications};
use super::{storage_errors, Accounts, Email, PasskeysNotConfigured, Requester};
use crate::audit::AuditEvent;
use crate::db::StorageError;

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
    // An unclaimed account keeps its id (its pending passkeys are excluded); anything else
    // owns the address.
    let (user_id, exclude) = match users::by_email(&client, &email).await? {
        None => (Uuid::new_v4(), Vec::new()),
        Some(user) if user.is_unclaimed() => {
            let pending = credentials::of_user(&client, user.id).await?;
            (
                user.id,
                pending.iter().map(|p| p.cred_id().clone()).collect(),
            )
        }
        Some(_) => return Err(RegisterError::EmailTaken),
    };
    let creation = ceremony::Creation {
        user_id,
        email: email.as_str(),
        exclude,
        bootstrap_token_id: Some(token_id),
        recovery_token_id: None,
    };
    Ok(ceremony::start_creation(&client, webauthn, creation, now).await?)
}

/// `register/verify`: checks the new passkey, spends the invitation, creates the unverified
/// account if the address has none, stores the passkey pending and queues the email that
/// vouches for it. `claimed_email`, when given, must be the ceremony's address.
pub async fn finish_registration(
    accounts: &Accounts,
    requester: &Requester,
    ceremony_id: Uuid,
    claimed_email: Option<&str>,
    credential: &RegisterPublicKeyCredential,
) -> Result<Registered, RegisterError> {
    let webauthn = accounts.webauthn()?;
    let now = accounts.now();
    let (passkey, user_id, email, token_id) = {
        let client = accounts.pool.get().await?;
        // Taken in its own statement: the ceremony is spent even if what follows fails.
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
        claimable(users::by_email(&client, &email).await?, user_id)?;
        (passkey, user_id, email, token_id)
    };
    let credential_id = credentials::credential_key(&passkey);
    let aaguid = authenticators::aaguid(credential);
    let name = authenticators::name_of(aaguid).unwrap_or(authenticators::FALLBACK_NAME);

    // The intent is durable before anything changes; the transaction re-checks everything.
    let mut used = requester.audit(AuditEvent::BootstrapTokenUse, Some(user_id));
    used.subject = Some(token_id.to_string());
    accounts.audit(used).await?;
    let mut registered = requester.audit(AuditEvent::Register, Some(user_id));
    registered.details = serde_json::json!({ "credential_id": credential_id, "pending": true });
    accounts.audit(registered).await?;

    let mut client = accounts.pool.get().await?;
    let tx = client.transaction().await?;
    if !bootstrap::consume(&tx, token_id, user_id, now).await? {
        return Err(RegisterError::InvalidInvitation);
    }
    users::insert(&tx, user_id, email.as_str(), now).await?;
    // Locked: a verification of this account waits, so it cannot miss this pending passkey.
    match users::lock(&tx, user_id).await? {
        Some(user) if user.is_unclaimed() => {}
        // Verified meanwhile, or the address went to an account started by another ceremony.
        _ => return Err(RegisterError::EmailTaken),
    }
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

/// The address is free, or held by the unclaimed account this ceremony was started for.
fn claimable(user: Option<users::User>, user_id: Uuid) -> Result<(), RegisterError> {
    match user {
        None => Ok(()),
        Some(u) if u.id == user_id && u.is_unclaimed() => Ok(()),
        Some(_) => Err(RegisterError::EmailTaken),
    }
}
