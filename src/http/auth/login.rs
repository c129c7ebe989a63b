//! `POST /api/auth/login/options` and `/verify`: passkey sign-in.
//!
//! With an email, the challenge lists that account's passkeys; without one (or for an address
//! with no account, so options reveal nothing) it is a discoverable challenge the browser can
//! answer with any passkey for this site (autofill). Verify refuses unverified and deleted
//! accounts, rejects a counter regression (a possibly cloned authenticator), and on success
//! issues a fresh session cookie.

use crate::audit::AuditEvent;
use crate::http::error::ErrorCode;
use axum::extract::State;
use axum::http::{header, StatusCode};
use axum::response::IntoResponse;
use axum::Json;
use raptor_actors::audit::AuditEntry;
use raptor_actors::session::NewSession;
use secrecy::ExposeSecret;
use serde::Deserialize;
use serde_json::json;
use uuid::Uuid;
use webauthn_rs::prelude::{
    AuthenticationResult, DiscoverableAuthentication, PasskeyAuthentication, PublicKeyCredential,
    WebauthnError,
};

use crate::auth::{ceremony, repo, Email};
use crate::http::extract::Caller;
use crate::http::{cookie, ApiError, ApiJson, AppState};

use super::{invalid_ceremony, SessionBody};

#[derive(Deserialize, Default)]
pub struct OptionsRequest {
    #[serde(default)]
    email: Option<String>,
}

pub async fn options(
    State(state): State<AppState>,
    ApiJson(request): ApiJson<OptionsRequest>,
) -> Result<impl IntoResponse, ApiError> {
    let webauthn = state.webauthn()?;
    let now = state.now();
    let client = state.db().await?;
    let account = match request.email.as_deref().map(Email::parse) {
        Some(Ok(email)) => repo::user_by_email(&client, &email)
            .await
            .map_err(ApiError::internal)?,
        Some(Err(_)) | None => None,
    };
    let passkeys = match &account {
        Some(user) if !user.deleted => repo::passkeys_of(&client, user.id)
            .await
            .map_err(ApiError::internal)?,
        _ => Vec::new(),
    };
    let (new, public_key, mediation) = if let (Some(user), false) = (&account, passkeys.is_empty())
    {
        let (challenge, auth) = webauthn
            .start_passkey_authentication(&passkeys)
            .map_err(ApiError::internal)?;
        let state_json = serde_json::to_value(&auth).map_err(ApiError::internal)?;
        let new = ceremony::New {
            kind: ceremony::Kind::Authentication,
            user_id: Some(user.id),
            email: None,
            bootstrap_token_id: None,
            state: state_json,
        };
        (new, challenge.public_key, None)
    } else {
        let (challenge, auth) = webauthn
            .start_discoverable_authentication()
            .map_err(ApiError::internal)?;
        let state_json = serde_json::to_value(&auth).map_err(ApiError::internal)?;
        let new = ceremony::New {
            kind: ceremony::Kind::Discoverable,
            user_id: None,
            email: None,
            bootstrap_token_id: None,
            state: state_json,
        };
        (new, challenge.public_key, challenge.mediation)
    };
    let ceremony_id = ceremony::create(&client, new, now)
        .await
        .map_err(ApiError::internal)?;
    let mut body = json!({ "ceremony_id": ceremony_id, "publicKey": public_key });
    if let Some(mediation) = mediation {
        body["mediation"] = serde_json::to_value(mediation).map_err(ApiError::internal)?;
    }
    Ok(Json(body))
}

#[derive(Deserialize)]
pub struct VerifyRequest {
    ceremony_id: Uuid,
    credential: PublicKeyCredential,
}

fn login_failed() -> ApiError {
    ApiError::new(
        StatusCode::UNAUTHORIZED,
        ErrorCode::LoginFailed,
        "the passkey could not be verified",
    )
}

pub async fn verify(
    State(state): State<AppState>,
    caller: Caller,
    ApiJson(request): ApiJson<VerifyRequest>,
) -> Result<impl IntoResponse, ApiError> {
    let webauthn = state.webauthn()?;
    let now = state.now();
    let client = state.db().await?;
    let kinds = [ceremony::Kind::Authentication, ceremony::Kind::Discoverable];
    let taken = ceremony::take(&client, request.ceremony_id, &kinds, now)
        .await
        .map_err(ApiError::internal)?
        .ok_or_else(invalid_ceremony)?;
    let credential_id = repo::base64url(request.credential.get_credential_id());
    let stored = repo::passkey_by_credential_id(&client, &credential_id)
        .await
        .map_err(ApiError::internal)?;

    // Which account this credential may sign in to, and the library's verdict on the assertion.
    let outcome: Result<(Uuid, AuthenticationResult), WebauthnError> = match taken.kind {
        ceremony::Kind::Authentication => {
            let auth: PasskeyAuthentication =
                serde_json::from_value(taken.state).map_err(|_| invalid_ceremony())?;
            match (taken.user_id, &stored) {
                (Some(expected), Some(s)) if s.user_id == expected => webauthn
                    .finish_passkey_authentication(&request.credential, &auth)
                    .map(|r| (expected, r)),
                _ => Err(WebauthnError::CredentialNotFound),
            }
        }
        _ => {
            let auth: DiscoverableAuthentication =
                serde_json::from_value(taken.state).map_err(|_| invalid_ceremony())?;
            let claimed = webauthn
                .identify_discoverable_authentication(&request.credential)
                .map(|(user, _)| user);
            match (claimed, &stored) {
                (Ok(user), Some(s)) if s.user_id == user => webauthn
                    .finish_discoverable_authentication_v2(&request.credential, auth, &s.passkey)
                    .map(|r| (user, r)),
                _ => Err(WebauthnError::CredentialNotFound),
            }
        }
    };
    let known_user = stored.as_ref().map(|s| s.user_id);
    let (user_id, result) = match outcome {
        Ok(ok) => ok,
        Err(WebauthnError::CredentialPossibleCompromise) => {
            let mut entry = failure(&caller, known_user, "counter_regression");
            entry.event = AuditEvent::LoginCounterRegression.as_str();
            entry.subject = Some(credential_id);
            state.audit(entry).await?;
            return Err(login_failed());
        }
        Err(error) => {
            tracing::info!(%error, "login assertion refused");
            state
                .audit(failure(&caller, known_user, "assertion_refused"))
                .await?;
            return Err(login_failed());
        }
    };

    let user = repo::user_by_id(&client, user_id)
        .await
        .map_err(ApiError::internal)?;
    match user {
        Some(u) if u.deleted => {
            state
                .audit(failure(&caller, Some(user_id), "account_deleted"))
                .await?;
            return Err(login_failed());
        }
        Some(u) if !u.verified => {
            state
                .audit(failure(&caller, Some(user_id), "email_not_verified"))
                .await?;
            return Err(ApiError::forbidden(
                ErrorCode::EmailNotVerified,
                "verify your email address before signing in",
            ));
        }
        Some(_) => {}
        None => return Err(login_failed()),
    }
    if let Some(mut s) = stored {
        let changed = s.passkey.update_credential(&result) == Some(true);
        repo::record_use(&client, &s.passkey, changed, now)
            .await
            .map_err(ApiError::internal)?;
    }

    let new = NewSession {
        user_id,
        ip_prefix: Some(caller.ip_prefix.clone()),
        user_agent: caller.user_agent.clone(),
    };
    let issued = state.actors.sessions.issue(new).await?;
    let mut entry = caller.audit(AuditEvent::LoginSuccess);
    entry.actor_user_id = Some(user_id);
    entry.subject = Some(issued.info.session_id.to_string());
    state.audit(entry).await?;
    let until = now + state.session_policy().absolute;
    let set_cookie = cookie::issue(&state.settings, issued.token.expose_secret(), until, now);
    Ok((
        [(header::SET_COOKIE, set_cookie)],
        Json(SessionBody::from(&issued.info)),
    ))
}

fn failure(caller: &Caller, user: Option<Uuid>, reason: &str) -> AuditEntry {
    let mut entry = caller.audit(AuditEvent::LoginFailure);
    entry.actor_user_id = user;
    entry.details = json!({ "reason": reason });
    entry
}
