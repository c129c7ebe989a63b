//! `POST /api/auth/register/options` and `/verify`: invite-only passkey registration, behind
//! `FLAG_WEBAUTHN_REGISTRATION`. The use cases live in [`crate::auth::register`].

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::IntoResponse;
use axum::Json;
use serde::Deserialize;
use serde_json::json;
use uuid::Uuid;
use webauthn_rs::prelude::RegisterPublicKeyCredential;

use super::{accounts, options_body};
use crate::auth::register::{finish_registration, start_registration};
use crate::http::extract::Caller;
use crate::http::{ApiError, ApiJson, AppState};

#[derive(Deserialize)]
pub struct OptionsRequest {
    email: String,
    bootstrap_token: String,
}

pub async fn options(
    State(state): State<AppState>,
    ApiJson(request): ApiJson<OptionsRequest>,
) -> Result<impl IntoResponse, ApiError> {
    registration_enabled(&state)?;
    let accounts = accounts(&state);
    let options = start_registration(&accounts, &request.email, &request.bootstrap_token).await?;
    Ok(options_body(options.ceremony_id, options.challenge))
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
    let registered = finish_registration(
        &accounts(&state),
        &caller.requester(),
        request.ceremony_id,
        request.email.as_deref(),
        &request.credential,
    )
    .await?;
    let body = json!({
        "user_id": registered.user_id,
        "credential_id": registered.credential_id,
        "needs_email_verification": true,
    });
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
