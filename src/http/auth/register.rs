//! `POST /api/auth/register/options` and `/verify`: invite-only passkey registration.
//!
//! Options needs a bootstrap token; verify consumes it, creates the (unverified) user and the
//! passkey, and queues the verification email, all in one transaction that commits only after
//! the audit rows are durable.

use crate::audit::AuditEvent;
use crate::http::error::ErrorCode;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::IntoResponse;
use axum::Json;
use serde::Deserialize;
use serde_json::json;
use uuid::Uuid;
use webauthn_rs::prelude::{PasskeyRegistration, RegisterPublicKeyCredential};

use crate::auth::{bootstrap, ceremony, passkeys, repo, Email};
use crate::http::extract::Caller;
use crate::http::{ApiError, ApiJson, AppState};

use super::{invalid_ceremony, invalid_email};

#[derive(Deserialize)]
pub struct OptionsRequest {
    email: String,
    bootstrap_token: String,
}

fn invalid_bootstrap_token() -> ApiError {
    ApiError::forbidden(
        ErrorCode::InvalidBootstrapToken,
        "the invitation token is not valid",
    )
}

pub async fn options(
    State(state): State<AppState>,
    ApiJson(request): ApiJson<OptionsRequest>,
) -> Result<impl IntoResponse, ApiError> {
    registration_enabled(&state)?;
    let webauthn = state.webauthn()?;
    let email = Email::parse(&request.email).map_err(|_| invalid_email())?;
    let now = state.now();
    let client = state.db().await?;
    let token_id = bootstrap::find_usable(
        &client,
        &state.hasher(),
        &request.bootstrap_token,
        &email,
        now,
    )
    .await
    .map_err(ApiError::internal)?
    .ok_or_else(invalid_bootstrap_token)?;

    // An unverified account may add another passkey (a retried sign-up); anything else owns
    // the address.
    let (user_id, exclude) = match repo::user_by_email(&client, &email)
        .await
        .map_err(ApiError::internal)?
    {
        None => (Uuid::new_v4(), Vec::new()),
        Some(user) if !user.verified && !user.deleted => {
            let existing = repo::passkeys_of(&client, user.id)
                .await
                .map_err(ApiError::internal)?;
            (
                user.id,
                existing.iter().map(|p| p.cred_id().clone()).collect(),
            )
        }
        Some(_) => {
            return Err(ApiError::new(
                StatusCode::CONFLICT,
                ErrorCode::EmailTaken,
                "this address already has an account",
            ))
        }
    };
    let (mut challenge, registration) = webauthn
        .start_passkey_registration(user_id, email.as_str(), email.as_str(), Some(exclude))
        .map_err(ApiError::internal)?;
    passkeys::require_resident_key(&mut challenge);
    let new = ceremony::New {
        kind: ceremony::Kind::Registration,
        user_id: Some(user_id),
        email: Some(email.as_str()),
        bootstrap_token_id: Some(token_id),
        state: serde_json::to_value(&registration).map_err(ApiError::internal)?,
    };
    let ceremony_id = ceremony::create(&client, new, now)
        .await
        .map_err(ApiError::internal)?;
    Ok(Json(
        json!({ "ceremony_id": ceremony_id, "publicKey": challenge.public_key }),
    ))
}

#[derive(Deserialize)]
pub struct VerifyRequest {
    ceremony_id: Uuid,
    #[serde(default)]
    email: Option<String>,
    credential: RegisterPublicKeyCredential,
}

pub async fn verify(
    State(state): State<AppState>,
    caller: Caller,
    ApiJson(request): ApiJson<VerifyRequest>,
) -> Result<impl IntoResponse, ApiError> {
    registration_enabled(&state)?;
    let webauthn = state.webauthn()?;
    let now = state.now();
    let mut client = state.db().await?;
    // Taken in its own statement: the ceremony is spent even if what follows fails.
    let taken = ceremony::take(
        &client,
        request.ceremony_id,
        &[ceremony::Kind::Registration],
        now,
    )
    .await
    .map_err(ApiError::internal)?
    .ok_or_else(invalid_ceremony)?;
    let (Some(user_id), Some(email), Some(token_id)) =
        (taken.user_id, taken.email, taken.bootstrap_token_id)
    else {
        return Err(invalid_ceremony());
    };
    if let Some(claimed) = &request.email {
        if Email::parse(claimed).map_err(|_| invalid_email())?.as_str() != email {
            return Err(invalid_ceremony());
        }
    }
    let registration: PasskeyRegistration =
        serde_json::from_value(taken.state).map_err(|_| invalid_ceremony())?;
    let passkey = webauthn
        .finish_passkey_registration(&request.credential, &registration)
        .map_err(|error| {
            tracing::info!(%error, "registration ceremony failed");
            ApiError::bad_request("the passkey could not be registered")
                .with_code(ErrorCode::RegistrationFailed)
        })?;

    let tx = client.transaction().await.map_err(ApiError::internal)?;
    if !bootstrap::consume(&tx, token_id, user_id, now)
        .await
        .map_err(ApiError::internal)?
    {
        return Err(invalid_bootstrap_token());
    }
    if !repo::insert_user(&tx, user_id, &email, now)
        .await
        .map_err(ApiError::internal)?
    {
        let existing = repo::user_by_id(&tx, user_id)
            .await
            .map_err(ApiError::internal)?;
        if existing.is_none_or(|u| u.verified || u.deleted) {
            return Err(ApiError::new(
                StatusCode::CONFLICT,
                ErrorCode::EmailTaken,
                "this address already has an account",
            ));
        }
    }
    if !repo::insert_passkey(&tx, user_id, &passkey, "Passkey", now)
        .await
        .map_err(ApiError::internal)?
    {
        return Err(ApiError::new(
            StatusCode::CONFLICT,
            ErrorCode::CredentialExists,
            "this passkey is already registered",
        ));
    }
    repo::enqueue_verification_email(&tx, user_id, &email, now)
        .await
        .map_err(ApiError::internal)?;

    let mut used = caller.audit(AuditEvent::BootstrapTokenUse);
    used.actor_user_id = Some(user_id);
    used.subject = Some(token_id.to_string());
    state.audit(used).await?;
    let credential_id = repo::credential_key(&passkey);
    let mut registered = caller.audit(AuditEvent::Register);
    registered.actor_user_id = Some(user_id);
    registered.details = json!({ "credential_id": credential_id });
    state.audit(registered).await?;
    tx.commit().await.map_err(ApiError::internal)?;

    state.actors.mailer.wake();
    let body = json!({ "user_id": user_id, "credential_id": credential_id, "needs_email_verification": true });
    Ok((StatusCode::CREATED, Json(body)))
}

/// Registration answers only when `FLAG_WEBAUTHN_REGISTRATION` is on; otherwise it does not exist.
fn registration_enabled(state: &AppState) -> Result<(), ApiError> {
    if state.settings.flags.webauthn_registration {
        Ok(())
    } else {
        Err(ApiError::not_found())
    }
}
