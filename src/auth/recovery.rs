//! Lost-passkey recovery by email (issue 12): `request_recovery` (in
//! [`super::recovery_request`], which names this module's error), [`start_recovery`] and
//! [`finish_recovery`]; the operator's link is [`super::recovery_operator`].
//!
//! A verified, non-erased account may ask for a single-use link (30 minutes) that lets whoever
//! reads its mailbox add a new passkey. Using it consumes the token, adds the passkey (old ones
//! stay), ends every session of the account on every dyno, and signs the user in afresh. A
//! token dies when a newer one is issued and when the account signs in with an existing passkey
//! (see [`super::login`]). A refusal of a token changes nothing and is audited
//! (`recovery.token_rejected`), at most once per client per minute. The threat model is in `docs/auth.md`: the residual risk is a compromised
//! mailbox, which the security notices ([`super::notify`]) make visible to the owner.

use super::letters::RECOVER_PURPOSE;
use raptor_actors::audit::AppendError;
use raptor_actors::session::{IssuedSession, NewSession, SessionCallError};
use raptor_actors::token;
use uuid::Uuid;
use webauthn_rs::prelude::{PasskeyRegistration, RegisterPublicKeyCredential, WebauthnError};

use super::authenticators;
use super::ceremony::{self, CreationOptions, StartError};
use super::notify::{self, Notice, Notify};
use super::repo::recoveries::{self, Token};
use super::repo::{ceremonies, credentials, users};
use super::{storage_errors, Accounts, Origin, PasskeysNotConfigured};
use crate::audit::AuditEvent;
use crate::db::StorageError;

/// The name a recovered passkey gets when its authenticator is not in the table.
pub const RECOVERED_PASSKEY_NAME: &str = "Passkey (recovery)";

#[derive(Debug, thiserror::Error)]
pub enum RecoveryError {
    #[error(transparent)]
    NotConfigured(#[from] PasskeysNotConfigured),
    #[error("the recovery link is unknown, used, expired or superseded")]
    InvalidToken,
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
    #[error(transparent)]
    Session(#[from] SessionCallError),
}
storage_errors!(RecoveryError);

/// Why a token was refused, for the `recovery.token_rejected` row.
struct Rejected {
    reason: &'static str,
    user_id: Option<Uuid>,
}

impl Rejected {
    fn new(reason: &'static str, user_id: Option<Uuid>) -> Self {
        Self { reason, user_id }
    }
}

/// Audits a refused token (the client's first refusal this minute only) and answers
/// [`RecoveryError::InvalidToken`].
async fn reject(
    accounts: &Accounts,
    origin: &Origin,
    rejected: Rejected,
) -> Result<std::convert::Infallible, RecoveryError> {
    let mut entry = origin.audit(AuditEvent::RecoveryTokenRejected, rejected.user_id);
    entry.details = serde_json::json!({ "reason": rejected.reason });
    accounts.audit_failure(origin, entry).await?;
    Err(RecoveryError::InvalidToken)
}

/// The usable token `raw` names, or why not.
async fn usable(
    accounts: &Accounts,
    client: &impl deadpool_postgres::GenericClient,
    raw: &str,
) -> Result<Result<Token, Rejected>, StorageError> {
    if !token::well_formed(raw) {
        return Ok(Err(Rejected::new("malformed", None)));
    }
    let digests = accounts.hasher.candidates(RECOVER_PURPOSE, raw);
    Ok(recoveries::find_usable(client, &digests, accounts.now())
        .await?
        .ok_or(Rejected::new("unknown_used_expired_or_superseded", None)))
}

/// `recovery/options`: checks the token and starts a creation ceremony for its account that
/// excludes the passkeys it has.
pub async fn start_recovery(
    accounts: &Accounts,
    origin: &Origin,
    raw_token: &str,
) -> Result<CreationOptions, RecoveryError> {
    let webauthn = accounts.webauthn()?;
    let now = accounts.now();
    let checked = {
        let client = accounts.pool.get().await?;
        match usable(accounts, &client, raw_token).await? {
            Err(rejected) => Err(rejected),
            Ok(token) => match users::by_id(&client, token.user_id).await? {
                Some(user) if user.is_active() => {
                    let existing = credentials::of_user(&client, user.id).await?;
                    let creation = ceremony::Creation {
                        user_id: user.id,
                        email: &user.email,
                        exclude: existing.iter().map(|p| p.cred_id().clone()).collect(),
                        bootstrap_token_id: None,
                        recovery_token_id: Some(token.id),
                    };
                    Ok(ceremony::start_creation(&client, webauthn, creation, now).await?)
                }
                _ => Err(Rejected::new("account_inactive", Some(token.user_id))),
            },
        }
    };
    match checked {
        Ok(options) => Ok(options),
        Err(rejected) => match reject(accounts, origin, rejected).await? {},
    }
}

/// A completed recovery.
pub struct Recovered {
    pub user_id: Uuid,
    pub credential_id: String,
    /// The account's passkeys now, the new one included.
    pub passkeys: i64,
    /// The fresh session (every other one was ended).
    pub session: IssuedSession,
}

/// What [`finish_recovery`] checked before changing anything.
struct Checked {
    token: Token,
    email: String,
    passkey: webauthn_rs::prelude::Passkey,
    aaguid: Option<Uuid>,
}

/// `recovery/verify`: checks the ceremony, its token (and `claimed_token`, when given, must be
/// the one the ceremony was started with) and the new passkey; then adds it, consumes the
/// token, ends every session of the account on every dyno and starts a fresh one.
pub async fn finish_recovery(
    accounts: &Accounts,
    origin: &Origin,
    ceremony_id: Uuid,
    claimed_token: Option<&str>,
    credential: &RegisterPublicKeyCredential,
) -> Result<Recovered, RecoveryError> {
    let webauthn = accounts.webauthn()?;
    let now = accounts.now();
    let checked = {
        let client = accounts.pool.get().await?;
        let taken = ceremonies::take(&client, ceremony_id, &[ceremonies::Kind::Recovery], now)
            .await?
            .ok_or(RecoveryError::InvalidCeremony)?;
        let (Some(user_id), Some(token_id)) = (taken.user_id, taken.recovery_token_id) else {
            return Err(RecoveryError::InvalidCeremony);
        };
        check(
            accounts,
            &client,
            webauthn,
            user_id,
            token_id,
            claimed_token,
            taken.state,
            credential,
        )
        .await?
    };
    let Checked {
        token,
        email,
        passkey,
        aaguid,
    } = match checked {
        Ok(checked) => checked,
        Err(rejected) => match reject(accounts, origin, rejected).await? {},
    };
    let user_id = token.user_id;
    let credential_id = credentials::credential_key(&passkey);
    let name = authenticators::name_of(aaguid).unwrap_or(RECOVERED_PASSKEY_NAME);
    let session_id = Uuid::new_v4();

    // The intent is durable before anything changes; the transaction re-checks everything.
    let mut entry = origin.audit(AuditEvent::RecoveryCompleted, Some(user_id));
    entry.subject = Some(token.id.to_string());
    entry.details = serde_json::json!({
        "credential_id": credential_id,
        "session_id": session_id,
    });
    accounts.audit(entry).await?;

    let added = Added {
        user_id,
        token,
        email: &email,
        passkey: &passkey,
        name,
        aaguid,
    };
    let (passkeys, revoked) = add_and_end_sessions(accounts, origin, added, now).await?;
    accounts.actors.mailer.wake();

    let sessions = &accounts.actors.sessions;
    sessions.evict(&revoked);
    let new = NewSession {
        user_id,
        ip_prefix: origin.ip_prefix.clone(),
        user_agent: origin.user_agent.clone(),
    };
    let session = sessions.issue_as(session_id, new).await?;
    Ok(Recovered {
        user_id,
        credential_id,
        passkeys,
        session,
    })
}

/// What [`finish_recovery`] adds to an account.
struct Added<'a> {
    user_id: Uuid,
    token: Token,
    email: &'a str,
    passkey: &'a webauthn_rs::prelude::Passkey,
    name: &'a str,
    aaguid: Option<Uuid>,
}

/// In one transaction that re-checks the account and the token: consumes the token, adds the
/// passkey, queues the notice and ends every session. The account's passkeys and the ended
/// sessions.
async fn add_and_end_sessions(
    accounts: &Accounts,
    origin: &Origin,
    added: Added<'_>,
    now: chrono::DateTime<chrono::Utc>,
) -> Result<(i64, Vec<Uuid>), RecoveryError> {
    let Added {
        user_id,
        token,
        email,
        passkey,
        name,
        aaguid,
    } = added;
    let mut client = accounts.pool.get().await?;
    let tx = client.transaction().await?;
    match users::lock(&tx, user_id).await? {
        Some(u) if u.is_active() => {}
        _ => return Err(RecoveryError::InvalidToken),
    }
    if !recoveries::consume(&tx, token, now).await? {
        return Err(RecoveryError::InvalidToken);
    }
    recoveries::discard_unused(&tx, user_id).await?;
    credentials::insert(&tx, user_id, passkey, name, aaguid, false, now)
        .await?
        .ok_or(RecoveryError::CredentialExists)?;
    let notice = Notify {
        user_id,
        email,
        notice: Notice::RecoveryUsed,
        passkey: Some(name),
    };
    notify::queue(&tx, origin, notice, now).await?;
    let passkeys = credentials::count(&tx, user_id).await?;
    // Every session ends in the same commit that adds the passkey: never one without the
    // other. Other dynos hear of it from the commit's notifications.
    let revoked = raptor_actors::session::revoke_in(&tx, user_id, None, None, now).await?;
    tx.commit().await?;
    Ok((passkeys, revoked))
}

/// The checks of [`finish_recovery`] that read: the token behind the ceremony is still usable,
/// is the claimed one, belongs to the ceremony's active account; the passkey is new and valid.
#[allow(clippy::too_many_arguments)]
async fn check(
    accounts: &Accounts,
    client: &impl deadpool_postgres::GenericClient,
    webauthn: &webauthn_rs::Webauthn,
    user_id: Uuid,
    token_id: Uuid,
    claimed_token: Option<&str>,
    state: serde_json::Value,
    credential: &RegisterPublicKeyCredential,
) -> Result<Result<Checked, Rejected>, RecoveryError> {
    let now = accounts.now();
    if let Some(claimed) = claimed_token {
        match usable(accounts, client, claimed).await? {
            Ok(t) if t.id == token_id => {}
            Ok(_) => return Ok(Err(Rejected::new("other_token", Some(user_id)))),
            Err(rejected) => return Ok(Err(rejected)),
        }
    }
    let Some(token) = recoveries::usable_by_id(client, token_id, now).await? else {
        let reason = "used_expired_or_superseded";
        return Ok(Err(Rejected::new(reason, Some(user_id))));
    };
    if token.user_id != user_id {
        return Ok(Err(Rejected::new("wrong_account", Some(token.user_id))));
    }
    let email = match users::by_id(client, user_id).await? {
        Some(user) if user.is_active() => user.email,
        _ => return Ok(Err(Rejected::new("account_inactive", Some(user_id)))),
    };
    let registration: PasskeyRegistration =
        serde_json::from_value(state).map_err(|_| RecoveryError::InvalidCeremony)?;
    let passkey = webauthn
        .finish_passkey_registration(credential, &registration)
        .map_err(RecoveryError::CredentialRefused)?;
    if credentials::exists(client, &credentials::credential_key(&passkey)).await? {
        return Err(RecoveryError::CredentialExists);
    }
    Ok(Ok(Checked {
        token,
        email,
        passkey,
        aaguid: authenticators::aaguid(credential),
    }))
}
