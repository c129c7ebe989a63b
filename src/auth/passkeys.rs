//! A signed-in person's passkeys: [`list_passkeys`], [`start_adding_passkey`],
//! [`finish_adding_passkey`], [`rename_passkey`] and [`remove_passkey`] — never the last one,
//! which would lock the account out. Each change also queues a security notice to the account.

use raptor_actors::audit::AppendError;
use raptor_actors::session::SessionInfo;
use uuid::Uuid;
use webauthn_rs::prelude::{PasskeyRegistration, RegisterPublicKeyCredential, WebauthnError};

use super::authenticators;
use super::ceremony::{self, CreationOptions, StartError};
use super::notify::{self, Notice, Notify};
use super::repo::credentials::{self, PasskeyInfo};
use super::repo::{ceremonies, users};
use super::{storage_errors, Accounts, Origin, PasskeysNotConfigured};
use crate::audit::AuditEvent;
use crate::db::StorageError;

#[derive(Debug, thiserror::Error)]
pub enum PasskeyError {
    #[error(transparent)]
    NotConfigured(#[from] PasskeysNotConfigured),
    #[error("a name is 1 to 64 printable characters")]
    InvalidName,
    #[error("the ceremony is unknown, used, expired or not this account's")]
    InvalidCeremony,
    #[error("the authenticator's answer was refused: {0}")]
    CredentialRefused(WebauthnError),
    #[error("this authenticator credential is registered already")]
    CredentialExists,
    #[error("no such passkey of yours")]
    NotFound,
    #[error("the last passkey cannot be removed")]
    LastPasskey,
    #[error(transparent)]
    Start(#[from] StartError),
    #[error(transparent)]
    Storage(#[from] StorageError),
    #[error(transparent)]
    Audit(#[from] AppendError),
}
storage_errors!(PasskeyError);

/// A passkey's display name: trimmed, 1 to 64 printable characters.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PasskeyName(String);

impl PasskeyName {
    pub fn parse(raw: &str) -> Result<Self, PasskeyError> {
        let name = raw.trim();
        if name.is_empty() || name.chars().count() > 64 || name.chars().any(char::is_control) {
            return Err(PasskeyError::InvalidName);
        }
        Ok(Self(name.to_owned()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl Default for PasskeyName {
    fn default() -> Self {
        Self(authenticators::FALLBACK_NAME.to_owned())
    }
}

pub async fn list_passkeys(
    accounts: &Accounts,
    me: &SessionInfo,
) -> Result<Vec<PasskeyInfo>, PasskeyError> {
    Ok(credentials::list(&accounts.pool.get().await?, me.user_id).await?)
}

/// `passkeys/options`: a creation ceremony for the signed-in account that excludes the passkeys
/// it already has.
pub async fn start_adding_passkey(
    accounts: &Accounts,
    me: &SessionInfo,
) -> Result<CreationOptions, PasskeyError> {
    let webauthn = accounts.webauthn()?;
    let client = accounts.pool.get().await?;
    let existing = credentials::of_user(&client, me.user_id).await?;
    let creation = ceremony::Creation {
        user_id: me.user_id,
        email: &me.email,
        exclude: existing.iter().map(|p| p.cred_id().clone()).collect(),
        bootstrap_token_id: None,
        recovery_token_id: None,
    };
    Ok(ceremony::start_creation(&client, webauthn, creation, accounts.now()).await?)
}

/// A passkey just added.
#[derive(Debug)]
pub struct Added {
    pub credential_id: String,
    pub name: PasskeyName,
}

/// `passkeys/verify`: stores the new passkey on the signed-in account.
pub async fn finish_adding_passkey(
    accounts: &Accounts,
    origin: &Origin,
    me: &SessionInfo,
    ceremony_id: Uuid,
    credential: &RegisterPublicKeyCredential,
    name: Option<PasskeyName>,
) -> Result<Added, PasskeyError> {
    let webauthn = accounts.webauthn()?;
    let now = accounts.now();
    let passkey = {
        let client = accounts.pool.get().await?;
        let kinds = [ceremonies::Kind::Registration];
        let taken = ceremonies::take(&client, ceremony_id, &kinds, now)
            .await?
            .ok_or(PasskeyError::InvalidCeremony)?;
        // Only a ceremony started by this account for itself (not an invitation's sign-up).
        if taken.user_id != Some(me.user_id) || taken.bootstrap_token_id.is_some() {
            return Err(PasskeyError::InvalidCeremony);
        }
        let registration: PasskeyRegistration =
            serde_json::from_value(taken.state).map_err(|_| PasskeyError::InvalidCeremony)?;
        let passkey = webauthn
            .finish_passkey_registration(credential, &registration)
            .map_err(PasskeyError::CredentialRefused)?;
        if credentials::exists(&client, &credentials::credential_key(&passkey)).await? {
            return Err(PasskeyError::CredentialExists);
        }
        passkey
    };
    let credential_id = credentials::credential_key(&passkey);
    // The person's name wins; else the authenticator's, from the bundled table.
    let aaguid = authenticators::aaguid(credential);
    let name = name.unwrap_or_else(|| {
        let known = authenticators::name_of(aaguid).unwrap_or(authenticators::FALLBACK_NAME);
        PasskeyName(known.to_owned())
    });
    let mut entry = origin.audit(AuditEvent::PasskeyAdd, Some(me.user_id));
    entry.details = serde_json::json!({ "credential_id": credential_id });
    accounts.audit(entry).await?;
    let mut client = accounts.pool.get().await?;
    let tx = client.transaction().await?;
    credentials::insert(&tx, me.user_id, &passkey, name.as_str(), aaguid, false, now)
        .await?
        .ok_or(PasskeyError::CredentialExists)?;
    let notice = notice(me, Notice::PasskeyAdded, Some(name.as_str()));
    notify::queue(&tx, origin, notice, now).await?;
    tx.commit().await?;
    accounts.actors.mailer.wake();
    Ok(Added {
        credential_id,
        name,
    })
}

pub async fn rename_passkey(
    accounts: &Accounts,
    origin: &Origin,
    me: &SessionInfo,
    id: Uuid,
    name: &PasskeyName,
) -> Result<(), PasskeyError> {
    let credential_id = credentials::owned(&accounts.pool.get().await?, me.user_id, id)
        .await?
        .ok_or(PasskeyError::NotFound)?;
    let mut entry = origin.audit(AuditEvent::PasskeyRename, Some(me.user_id));
    entry.details = serde_json::json!({ "credential_id": credential_id });
    accounts.audit(entry).await?;
    let mut client = accounts.pool.get().await?;
    let tx = client.transaction().await?;
    if !credentials::rename(&tx, me.user_id, id, name.as_str()).await? {
        return Err(PasskeyError::NotFound);
    }
    let notice = notice(me, Notice::PasskeyRenamed, Some(name.as_str()));
    notify::queue(&tx, origin, notice, accounts.now()).await?;
    tx.commit().await?;
    accounts.actors.mailer.wake();
    Ok(())
}

/// Removes one of the caller's passkeys unless it is their last.
pub async fn remove_passkey(
    accounts: &Accounts,
    origin: &Origin,
    me: &SessionInfo,
    id: Uuid,
) -> Result<(), PasskeyError> {
    let credential_id = {
        let client = accounts.pool.get().await?;
        let credential_id = credentials::owned(&client, me.user_id, id)
            .await?
            .ok_or(PasskeyError::NotFound)?;
        if credentials::count(&client, me.user_id).await? <= 1 {
            return Err(PasskeyError::LastPasskey);
        }
        credential_id
    };
    let mut entry = origin.audit(AuditEvent::PasskeyRemove, Some(me.user_id));
    entry.details = serde_json::json!({ "credential_id": credential_id });
    accounts.audit(entry).await?;

    // Re-checked under the user's row lock, so two removals cannot both see "one more left".
    let mut client = accounts.pool.get().await?;
    let tx = client.transaction().await?;
    users::lock(&tx, me.user_id).await?;
    if credentials::count(&tx, me.user_id).await? <= 1 {
        return Err(PasskeyError::LastPasskey);
    }
    if !credentials::delete(&tx, me.user_id, id).await? {
        return Err(PasskeyError::NotFound);
    }
    let notice = notice(me, Notice::PasskeyRemoved, None);
    notify::queue(&tx, origin, notice, accounts.now()).await?;
    tx.commit().await?;
    accounts.actors.mailer.wake();
    Ok(())
}

/// A security notice to the signed-in account.
fn notice<'a>(me: &'a SessionInfo, notice: Notice, passkey: Option<&'a str>) -> Notify<'a> {
    Notify {
        user_id: me.user_id,
        email: &me.email,
        notice,
        passkey,
    }
}
