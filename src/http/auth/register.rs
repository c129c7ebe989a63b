//! `POST /api/auth/register/options` and `/verify`: invite-only passkey registration, behind
//! `FLAG_WEBAUTHN_REGISTRATION`. The use cases live in [`crate::auth::register`].

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::IntoResponse;
use axum::Json;
use serde::Deserialize;
use utoipa::ToSchema;
use uuid::Uuid;
use webauthn_rs::prelude::RegisterPublicKeyCredential;

use super::ceremony::{CreationCeremony, NewCredential};
use super::{accounts, options_body};
use crate::audit::Origin;
use crate::auth::register::{finish_registration, start_registration};
use crate::http::error_schema::ErrorBody;
use crate::http::{ApiError, ApiJson, AppState};

#[derive(Deserialize, ToSchema)]
#[schema(example = json!({"email": "ada@example.com", "bootstrap_token": "the-invitation-printed-by-raptor-bootstrap-token-create"}))]
#[schema(as = RegisterOptionsRequest)]
pub struct OptionsRequest {
    email: String,
    /// The invitation from `raptor bootstrap-token create`.
    bootstrap_token: String,
}

/// Starts an invite-only registration (only while `FLAG_WEBAUTHN_REGISTRATION` is on).
#[utoipa::path(
    post,
    path = "/api/auth/register/options",
    tag = "auth",
    operation_id = "register_options",
    request_body = OptionsRequest,
    responses(
        (status = 200, description = "A creation ceremony", body = CreationCeremony),
        (status = 403, description = "`invalid_bootstrap_token`: the invitation is not valid (or a shared 403)", body = ErrorBody),
        (status = 404, description = "`not_found`: registration is switched off", body = ErrorBody),
        (status = 409, description = "`email_taken`: the address already has an account", body = ErrorBody),
        (status = 422, description = "`invalid_email`, or `invalid_request`: the body does not have the documented shape", body = ErrorBody),
        (status = 429, description = "`rate_limited`: too many sign-ups from this client (20 an hour, every dyno)", body = ErrorBody, headers(("Retry-After" = u64, description = "Seconds"))),
        (status = 503, description = "`service_unavailable`: passkeys are not configured, or the database or an actor is down; retry", body = ErrorBody, headers(("Retry-After" = u64, description = "Seconds"))),
    ),
)]
pub async fn options(
    State(state): State<AppState>,
    ApiJson(request): ApiJson<OptionsRequest>,
) -> Result<impl IntoResponse, ApiError> {
    registration_enabled(&state)?;
    let accounts = accounts(&state);
    let options = start_registration(&accounts, &request.email, &request.bootstrap_token).await?;
    Ok(options_body(options.ceremony_id, options.challenge))
}

#[derive(Deserialize, ToSchema)]
#[schema(example = json!({
    "ceremony_id": "6a0c1d8e-2f4b-4b7a-9d51-3e8f0c2a7b14",
    "email": "ada@example.com",
    "credential": {
        "id": "xPq3iW8n0d5l8Pq3iW8n0d5l8Pq",
        "rawId": "xPq3iW8n0d5l8Pq3iW8n0d5l8Pq",
        "type": "public-key",
        "response": {
            "attestationObject": "o2NmbXRkbm9uZWdhdHRTdG10oGhhdXRoRGF0YVi...",
            "clientDataJSON": "eyJ0eXBlIjoid2ViYXV0aG4uY3JlYXRlIiwiY2hhbGxlbmdlIjoi..."
        },
        "clientExtensionResults": {}
    }
}))]
#[schema(as = RegisterVerifyRequest)]
pub struct VerifyRequest {
    ceremony_id: Uuid,
    /// Optional: when sent, it must be the address the ceremony was started for.
    #[serde(default)]
    email: Option<String>,
    #[schema(value_type = NewCredential)]
    credential: RegisterPublicKeyCredential,
}

/// The body of a finished registration.
#[derive(serde::Serialize, ToSchema)]
pub struct Registered {
    user_id: Uuid,
    credential_id: String,
    /// Always `true`: the account is active once the emailed link is followed.
    needs_email_verification: bool,
}

/// Finishes the registration and queues the verification email.
#[utoipa::path(
    post,
    path = "/api/auth/register/verify",
    tag = "auth",
    operation_id = "register_verify",
    request_body = VerifyRequest,
    responses(
        (status = 201, description = "Registered; verify the email to sign in", body = Registered),
        (status = 400, description = "`invalid_ceremony`, `registration_failed` (the credential was refused), or `malformed_json`", body = ErrorBody),
        (status = 404, description = "`not_found`: registration is switched off", body = ErrorBody),
        (status = 409, description = "`credential_exists`, `email_taken`, or `registration_pending`: a sign-up of this address waits for its email to be verified (until it is, or for 7 days); nothing changed and the invitation is still unused", body = ErrorBody),
        (status = 503, description = "`service_unavailable`: passkeys are not configured, or the database or an actor is down; retry", body = ErrorBody, headers(("Retry-After" = u64, description = "Seconds"))),
    ),
)]
pub async fn verify(
    State(state): State<AppState>,
    caller: Origin,
    ApiJson(request): ApiJson<VerifyRequest>,
) -> Result<impl IntoResponse, ApiError> {
    registration_enabled(&state)?;
    let registered = finish_registration(
        &accounts(&state),
        &caller,
        request.ceremony_id,
        request.email.as_deref(),
        &request.credential,
    )
    .await?;
    let body = Registered {
        user_id: registered.user_id,
        credential_id: registered.credential_id,
        needs_email_verification: true,
    };
    Ok((StatusCode::CREATED, Json(body)))
}

/// Registration answers only when `FLAG_WEBAUTHN_REGISTRATION` is on; otherwise it does not exist.
fn registration_enabled(state: &AppState) -> Result<(), ApiError> {
    if state.config.registration_open {
        Ok(())
    } else {
        Err(ApiError::not_found())
    }
}
