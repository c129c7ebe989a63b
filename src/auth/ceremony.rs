//! Starting a passkey-creation ceremony, written once for the three places that create passkeys:
//! an invitation's sign-up, a signed-in person adding a passkey, and a recovery link. The challenge asks for a
//! discoverable credential, excludes the passkeys the account already has, and its state is
//! stored server-side (single use, five minutes) for the matching `…/verify`.

use chrono::{DateTime, Utc};
use deadpool_postgres::GenericClient;
use uuid::Uuid;
use webauthn_rs::prelude::{CreationChallengeResponse, CredentialID, WebauthnError};
use webauthn_rs::Webauthn;

use super::relying_party::require_resident_key;
use super::repo::ceremonies;
use crate::db::StorageError;

/// A creation ceremony handed to the browser.
#[derive(Debug)]
pub struct CreationOptions {
    pub ceremony_id: Uuid,
    pub challenge: CreationChallengeResponse,
}

/// Whose passkey the ceremony creates.
pub struct Creation<'a> {
    pub user_id: Uuid,
    pub email: &'a str,
    /// Credentials the authenticator must not create again.
    pub exclude: Vec<CredentialID>,
    /// The invitation of a sign-up; `None` when a signed-in person adds a passkey.
    pub bootstrap_token_id: Option<Uuid>,
    /// The recovery token of a recovery: the ceremony is then of its own kind
    /// ([`ceremonies::Kind::Recovery`]), which only `recovery/verify` finishes.
    pub recovery_token_id: Option<Uuid>,
}

/// The ceremony could not be started.
#[derive(Debug, thiserror::Error)]
pub enum StartError {
    #[error("the relying party refused to start a ceremony: {0}")]
    Library(#[from] WebauthnError),
    #[error(transparent)]
    Storage(#[from] StorageError),
}

/// Starts a creation ceremony and stores its state.
pub async fn start_creation(
    client: &impl GenericClient,
    webauthn: &Webauthn,
    creation: Creation<'_>,
    now: DateTime<Utc>,
) -> Result<CreationOptions, StartError> {
    let (mut challenge, registration) = webauthn.start_passkey_registration(
        creation.user_id,
        creation.email,
        creation.email,
        Some(creation.exclude),
    )?;
    require_resident_key(&mut challenge);
    let kind = match creation.recovery_token_id {
        Some(_) => ceremonies::Kind::Recovery,
        None => ceremonies::Kind::Registration,
    };
    let new = ceremonies::New {
        kind,
        user_id: Some(creation.user_id),
        email: Some(creation.email),
        bootstrap_token_id: creation.bootstrap_token_id,
        recovery_token_id: creation.recovery_token_id,
        state: serde_json::to_value(&registration).expect("ceremony state serialises"),
    };
    let ceremony_id = ceremonies::create(client, new, now).await?;
    Ok(CreationOptions {
        ceremony_id,
        challenge,
    })
}
