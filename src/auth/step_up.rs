//! Step-up (issue 24, item 2): adding a passkey, removing one, ending every other session and
//! erasing the account need a passkey assertion made within the step-up window
//! (`STEP_UP_WINDOW_SECS`, 300 s by default), so a session cookie alone (stolen, or left signed
//! in on a shared computer) cannot lock the owner out or take the account over.
//!
//! A session's last assertion is recorded by the session store: signing in (and a recovery,
//! whose new passkey was just made with user verification) sets it when the session starts;
//! [`start_reauth`] and [`finish_reauth`] (`POST /api/auth/reauth/{options,verify}`, the
//! ceremony wire format of SPEC §4) set it again. The ceremony is of its own kind, bound to
//! the signed-in account, and accepts only that account's usable passkeys.
//! [`require_recent_assertion`] is the check; it always reads the database, so a step-up made
//! through another dyno counts at once.

use raptor_actors::audit::AppendError;
use raptor_actors::session::{SessionCallError, SessionInfo};
use uuid::Uuid;
use webauthn_rs::prelude::{PasskeyAuthentication, PublicKeyCredential, WebauthnError};

use super::login::RequestOptions;
use super::repo::{ceremonies, credentials};
use super::{storage_errors, Accounts, Origin, PasskeysNotConfigured};
use crate::audit::AuditEvent;
use crate::db::StorageError;

/// The default of `STEP_UP_WINDOW_SECS`.
pub const DEFAULT_WINDOW_SECS: u64 = 300;

/// The session's last passkey assertion is too old (or it has none).
#[derive(Debug, thiserror::Error)]
pub enum StepUpError {
    #[error("prove a passkey again first (POST /api/auth/reauth/options, then /verify)")]
    ReauthRequired,
    #[error(transparent)]
    Session(#[from] SessionCallError),
}

/// Whether the session `me` proved a passkey within the step-up window.
pub async fn require_recent_assertion(
    accounts: &Accounts,
    me: &SessionInfo,
) -> Result<(), StepUpError> {
    let sessions = &accounts.actors.sessions;
    let asserted_at = sessions.asserted_at(me.user_id, me.session_id).await?;
    match asserted_at {
        Some(at) if is_recent(at, accounts.now(), accounts.step_up_window) => Ok(()),
        _ => Err(StepUpError::ReauthRequired),
    }
}

/// An assertion made at `at` still counts at `now`: not older than `window` (and not from the
/// future, which a clock step back could produce).
pub fn is_recent(
    at: chrono::DateTime<chrono::Utc>,
    now: chrono::DateTime<chrono::Utc>,
    window: chrono::Duration,
) -> bool {
    at <= now && now - at <= window
}

#[derive(Debug, thiserror::Error)]
pub enum ReauthError {
    #[error(transparent)]
    NotConfigured(#[from] PasskeysNotConfigured),
    #[error("the ceremony is unknown, used, expired or not this account's")]
    InvalidCeremony,
    /// Not one of the account's usable passkeys, or a refused assertion.
    #[error("the passkey could not be verified")]
    Failed,
    #[error("the relying party refused to start a ceremony: {0}")]
    Library(#[from] WebauthnError),
    #[error(transparent)]
    Storage(#[from] StorageError),
    #[error(transparent)]
    Audit(#[from] AppendError),
    #[error(transparent)]
    Session(#[from] SessionCallError),
}
storage_errors!(ReauthError);

/// `reauth/options`: a request ceremony for the signed-in account's usable passkeys.
pub async fn start_reauth(
    accounts: &Accounts,
    me: &SessionInfo,
) -> Result<RequestOptions, ReauthError> {
    let webauthn = accounts.webauthn()?;
    let client = accounts.pool.get().await?;
    let passkeys = credentials::usable_of_user(&client, me.user_id).await?;
    if passkeys.is_empty() {
        return Err(ReauthError::Failed);
    }
    let (challenge, auth) = webauthn.start_passkey_authentication(&passkeys)?;
    let new = ceremonies::New {
        kind: ceremonies::Kind::Reauth,
        user_id: Some(me.user_id),
        email: None,
        bootstrap_token_id: None,
        recovery_token_id: None,
        state: serde_json::to_value(&auth).expect("ceremony state serialises"),
    };
    let ceremony_id = ceremonies::create(&client, new, accounts.now()).await?;
    Ok(RequestOptions {
        ceremony_id,
        challenge,
    })
}

/// `reauth/verify`: checks the assertion against the account's own usable passkeys, audits
/// `session.reauth`, and records the assertion on the session. Returns when it was made.
pub async fn finish_reauth(
    accounts: &Accounts,
    origin: &Origin,
    me: &SessionInfo,
    ceremony_id: Uuid,
    credential: &PublicKeyCredential,
) -> Result<chrono::DateTime<chrono::Utc>, ReauthError> {
    let webauthn = accounts.webauthn()?;
    let now = accounts.now();
    let credential_id = credentials::base64url(credential.get_credential_id());
    let (mut stored, result) = {
        let client = accounts.pool.get().await?;
        let kinds = [ceremonies::Kind::Reauth];
        let taken = ceremonies::take(&client, ceremony_id, &kinds, now)
            .await?
            .ok_or(ReauthError::InvalidCeremony)?;
        if taken.user_id != Some(me.user_id) {
            return Err(ReauthError::InvalidCeremony);
        }
        let auth: PasskeyAuthentication =
            serde_json::from_value(taken.state).map_err(|_| ReauthError::InvalidCeremony)?;
        let stored = credentials::by_credential_id(&client, &credential_id)
            .await?
            .filter(|s| s.user_id == me.user_id && !s.pending)
            .ok_or(ReauthError::Failed)?;
        match webauthn.finish_passkey_authentication(credential, &auth) {
            Ok(result) => (stored, result),
            Err(error) => return Err(refused(accounts, origin, me, credential_id, error).await),
        }
    };
    let mut entry = origin.audit(AuditEvent::SessionReauth, Some(me.user_id));
    entry.subject = Some(me.session_id.to_string());
    entry.details = serde_json::json!({ "credential_id": credential_id });
    accounts.audit(entry).await?;
    {
        let client = accounts.pool.get().await?;
        let changed = stored.passkey.update_credential(&result) == Some(true);
        credentials::record_use(&client, &stored.passkey, changed, now).await?;
    }
    let sessions = &accounts.actors.sessions;
    sessions
        .record_assertion(me.user_id, me.session_id)
        .await?
        .ok_or(ReauthError::Failed)
}

/// A refused assertion: a counter regression (a possibly cloned authenticator) is audited as
/// at sign-in; any other refusal is only logged.
async fn refused(
    accounts: &Accounts,
    origin: &Origin,
    me: &SessionInfo,
    credential_id: String,
    error: WebauthnError,
) -> ReauthError {
    if matches!(error, WebauthnError::CredentialPossibleCompromise) {
        let mut entry = origin.audit(AuditEvent::LoginCounterRegression, Some(me.user_id));
        entry.subject = Some(credential_id);
        entry.details = serde_json::json!({ "reason": "counter_regression", "step_up": true });
        if let Err(error) = accounts.audit(entry).await {
            return error.into();
        }
    } else {
        tracing::info!(%error, "step-up assertion refused");
    }
    ReauthError::Failed
}
