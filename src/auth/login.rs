//! Passkey sign-in: [`start_login`] and [`finish_login`].
//!
//! The options never tell whether an address has an account: with or without an email, known
//! or not, they have the same shape (no `allowCredentials`, conditional mediation) and take the
//! same queries. Every Raptor passkey is discoverable (registration requires a resident key), so
//! the browser finds it without a list. Without an email, the ceremony accepts any passkey for
//! this site (autofill). With an email it accepts only that address's passkeys: none at all when
//! the address has no account, so signing in with one's own passkey after typing somebody
//! else's address fails the same way whether that address exists or not (issue 24, item 3).
//! Finishing refuses pending passkeys, unverified and
//! deleted accounts, and counter regressions (a possibly cloned authenticator), audits every
//! refusal, and on success starts a fresh session and kills any unused recovery link.

use raptor_actors::audit::{AppendError, AuditEntry};
use raptor_actors::session::{IssuedSession, NewSession, SessionCallError};
use uuid::Uuid;
use webauthn_rs::prelude::{
    AuthenticationResult, DiscoverableAuthentication, PasskeyAuthentication, PublicKeyCredential,
    RequestChallengeResponse, WebauthnError,
};
use webauthn_rs::Webauthn;

use super::repo::{ceremonies, credentials, recoveries, users};
use super::{storage_errors, Accounts, Email, Origin, PasskeysNotConfigured};
use crate::audit::AuditEvent;
use crate::db::StorageError;

#[derive(Debug, thiserror::Error)]
pub enum LoginError {
    #[error(transparent)]
    NotConfigured(#[from] PasskeysNotConfigured),
    #[error("the ceremony is unknown, used or expired")]
    InvalidCeremony,
    /// Unknown credential, refused assertion, counter regression, deleted account: one answer.
    #[error("the passkey could not be verified")]
    Failed,
    #[error("the account's email address is not verified yet")]
    EmailNotVerified,
    #[error("the relying party refused to start a ceremony: {0}")]
    Library(#[from] WebauthnError),
    #[error(transparent)]
    Storage(#[from] StorageError),
    #[error(transparent)]
    Audit(#[from] AppendError),
    #[error(transparent)]
    Session(#[from] SessionCallError),
}
storage_errors!(LoginError);

/// A sign-in ceremony handed to the browser.
#[derive(Debug)]
pub struct RequestOptions {
    pub ceremony_id: Uuid,
    pub challenge: RequestChallengeResponse,
}

/// `login/options`.
pub async fn start_login(
    accounts: &Accounts,
    email: Option<&str>,
) -> Result<RequestOptions, LoginError> {
    let webauthn = accounts.webauthn()?;
    let now = accounts.now();
    let client = accounts.pool.get().await?;
    let account = match email.map(Email::parse) {
        Some(Ok(email)) => users::by_email(&client, &email).await?,
        Some(Err(_)) | None => None,
    };
    // The same query whether or not the address is known, so timing tells nothing either.
    let owner = account
        .as_ref()
        .filter(|u| !u.deleted)
        .map_or(Uuid::nil(), |u| u.id);
    let passkeys = credentials::of_user(&client, owner).await?;
    let (new, challenge) = match account {
        Some(user) if !passkeys.is_empty() => {
            let (mut challenge, auth) = webauthn.start_passkey_authentication(&passkeys)?;
            // Listing the account's credentials would tell anyone that the address has one.
            // The rest of the shape is a discoverable challenge's, whatever the library puts in.
            let (discoverable, _) = webauthn.start_discoverable_authentication()?;
            challenge.public_key.allow_credentials.clear();
            challenge.public_key.extensions = discoverable.public_key.extensions;
            challenge.mediation = discoverable.mediation;
            let new = ceremony(ceremonies::Kind::Authentication, Some(user.id), &auth);
            (new, challenge)
        }
        _ => {
            let (challenge, auth) = webauthn.start_discoverable_authentication()?;
            // Bound to an address without passkeys: an authentication ceremony for nobody,
            // which no passkey finishes.
            let kind = match email {
                Some(_) => ceremonies::Kind::Authentication,
                None => ceremonies::Kind::Discoverable,
            };
            (ceremony(kind, None, &auth), challenge)
        }
    };
    let ceremony_id = ceremonies::create(&client, new, now).await?;
    Ok(RequestOptions {
        ceremony_id,
        challenge,
    })
}

fn ceremony(
    kind: ceremonies::Kind,
    user_id: Option<Uuid>,
    state: &impl serde::Serialize,
) -> ceremonies::New<'static> {
    ceremonies::New {
        kind,
        user_id,
        email: None,
        bootstrap_token_id: None,
        recovery_token_id: None,
        state: serde_json::to_value(state).expect("ceremony state serialises"),
    }
}

/// `login/verify`: checks the assertion and starts a session.
pub async fn finish_login(
    accounts: &Accounts,
    origin: &Origin,
    ceremony_id: Uuid,
    credential: &PublicKeyCredential,
) -> Result<IssuedSession, LoginError> {
    let webauthn = accounts.webauthn()?;
    let now = accounts.now();
    let credential_id = credentials::base64url(credential.get_credential_id());
    let (outcome, stored, user) = {
        let client = accounts.pool.get().await?;
        let kinds = [
            ceremonies::Kind::Authentication,
            ceremonies::Kind::Discoverable,
        ];
        let taken = ceremonies::take(&client, ceremony_id, &kinds, now)
            .await?
            .ok_or(LoginError::InvalidCeremony)?;
        let stored = credentials::by_credential_id(&client, &credential_id).await?;
        let outcome = check_assertion(webauthn, taken, stored.as_ref(), credential)?;
        let user = match &outcome {
            Ok((user_id, _)) => users::by_id(&client, *user_id).await?,
            Err(_) => None,
        };
        (outcome, stored, user)
    };
    let known_user = stored.as_ref().map(|s| s.user_id);
    let fail = |reason: &str| failure(origin, known_user, reason);
    let (user_id, result) = match outcome {
        Ok(ok) => ok,
        Err(WebauthnError::CredentialPossibleCompromise) => {
            let mut entry = fail("counter_regression");
            entry.event = AuditEvent::LoginCounterRegression.as_str();
            entry.subject = Some(credential_id);
            accounts.audit(entry).await?;
            return Err(LoginError::Failed);
        }
        Err(error) => {
            tracing::info!(%error, "login assertion refused");
            accounts
                .audit_failure(origin, fail("assertion_refused"))
                .await?;
            return Err(LoginError::Failed);
        }
    };
    let pending = stored.as_ref().is_some_and(|s| s.pending);
    if let Err((reason, error)) = usable(user.as_ref(), pending) {
        if let Some(reason) = reason {
            accounts.audit_failure(origin, fail(reason)).await?;
        }
        return Err(error);
    }

    let session_id = Uuid::new_v4();
    let mut entry = origin.audit(AuditEvent::LoginSuccess, Some(user_id));
    entry.subject = Some(session_id.to_string());
    accounts.audit(entry).await?;
    {
        let client = accounts.pool.get().await?;
        if let Some(mut s) = stored {
            let changed = s.passkey.update_credential(&result) == Some(true);
            credentials::record_use(&client, &s.passkey, changed, now).await?;
        }
        // Signing in with an existing passkey proves the person was not locked out: any
        // recovery link of the account dies.
        recoveries::discard_unused(&client, user_id).await?;
    }
    let new = NewSession {
        user_id,
        ip_prefix: origin.ip_prefix.clone(),
        user_agent: origin.user_agent.clone(),
    };
    Ok(accounts.actors.sessions.issue_as(session_id, new).await?)
}

/// Which account this credential may sign in to, and the library's verdict on the assertion.
/// The outer error is a ceremony whose stored state is unreadable.
fn check_assertion(
    webauthn: &Webauthn,
    taken: ceremonies::Taken,
    stored: Option<&credentials::Stored>,
    credential: &PublicKeyCredential,
) -> Result<Result<(Uuid, AuthenticationResult), WebauthnError>, LoginError> {
    let invalid = |_| LoginError::InvalidCeremony;
    Ok(match taken.kind {
        ceremonies::Kind::Authentication => match (taken.user_id, stored) {
            (Some(expected), Some(s)) if s.user_id == expected => {
                let auth: PasskeyAuthentication =
                    serde_json::from_value(taken.state).map_err(invalid)?;
                webauthn
                    .finish_passkey_authentication(credential, &auth)
                    .map(|r| (expected, r))
            }
            // Another account's passkey, an unknown one, or a ceremony bound to an address that
            // has none.
            _ => Err(WebauthnError::CredentialNotFound),
        },
        _ => {
            let auth: DiscoverableAuthentication =
                serde_json::from_value(taken.state).map_err(invalid)?;
            let claimed = webauthn
                .identify_discoverable_authentication(credential)
                .map(|(user, _)| user);
            match (claimed, stored) {
                (Ok(user), Some(s)) if s.user_id == user => webauthn
                    .finish_discoverable_authentication_v2(credential, auth, &s.passkey)
                    .map(|r| (user, r)),
                _ => Err(WebauthnError::CredentialNotFound),
            }
        }
    })
}

/// Whether the account may sign in: not erased, its email and passkey verified. A refusal
/// names the reason it is audited under (none for an account that is gone).
fn usable(
    user: Option<&users::User>,
    pending: bool,
) -> Result<(), (Option<&'static str>, LoginError)> {
    match user {
        Some(u) if u.deleted => Err((Some("account_deleted"), LoginError::Failed)),
        Some(u) if !u.verified || pending => {
            Err((Some("email_not_verified"), LoginError::EmailNotVerified))
        }
        Some(_) => Ok(()),
        None => Err((None, LoginError::Failed)),
    }
}

fn failure(origin: &Origin, user: Option<Uuid>, reason: &str) -> AuditEntry {
    let mut entry = origin.audit(AuditEvent::LoginFailure, user);
    entry.details = serde_json::json!({ "reason": reason });
    entry
}
