//! `POST /api/auth/recovery/start`, `/options` and `/verify`: lost-passkey recovery by email
//! ([`crate::auth::recovery`]). `start` is limited per client across dynos
//! (`crate::http::shared_limits::RECOVERY`) and per account (in the use case); it always
//! answers 202 at once and does its work afterwards, so neither its answer nor its timing tells
//! anybody whether an address has an account; `options`/`verify` speak registration's wire
//! format, and a successful verify sets a fresh session cookie exactly as a login does.

use axum::extract::State;
use axum::http::{header, StatusCode};
use axum::response::IntoResponse;
use axum::Json;
use secrecy::ExposeSecret;
use serde::Deserialize;
use serde_json::json;
use uuid::Uuid;
use webauthn_rs::prelude::RegisterPublicKeyCredential;

use super::{accounts, options_body};
use crate::auth::recovery::{finish_recovery, request_recovery, start_recovery};
use crate::http::extract::Caller;
use crate::http::{cookie, ApiError, ApiJson, AppState};

#[derive(Deserialize)]
pub struct StartRequest {
    email: String,
}

pub async fn start(
    State(state): State<AppState>,
    caller: Caller,
    ApiJson(request): ApiJson<StartRequest>,
) -> Result<impl IntoResponse, ApiError> {
    let accounts = accounts(&state);
    let requester = caller.requester();
    tokio::spawn(async move {
        if let Err(error) = request_recovery(&accounts, &requester, &request.email).await {
            tracing::error!(%error, "recovery email could not be queued");
        }
    });
    Ok((StatusCode::ACCEPTED, Json(json!({ "status": "accepted" }))))
}

#[derive(Deserialize)]
pub struct OptionsRequest {
    token: String,
}

pub async fn options(
    State(state): State<AppState>,
    caller: Caller,
    ApiJson(request): ApiJson<OptionsRequest>,
) -> Result<impl IntoResponse, ApiError> {
    let options = start_recovery(&accounts(&state), &caller.requester(), &request.token).await?;
    Ok(options_body(options.ceremony_id, options.challenge))
}

#[derive(Deserialize)]
pub struct VerifyRequest {
    ceremony_id: Uuid,
    /// Optional: when sent, it must be the token the ceremony was started with.
    #[serde(default)]
    token: Option<String>,
    credential: RegisterPublicKeyCredential,
}

pub async fn verify(
    State(state): State<AppState>,
    caller: Caller,
    ApiJson(request): ApiJson<VerifyRequest>,
) -> Result<impl IntoResponse, ApiError> {
    let recovered = finish_recovery(
        &accounts(&state),
        &caller.requester(),
        request.ceremony_id,
        request.token.as_deref(),
        &request.credential,
    )
    .await?;
    let now = state.now();
    let until = now + state.session_policy().absolute;
    let token = recovered.session.token.expose_secret();
    let set_cookie = cookie::issue(&state.settings, token, until, now);
    let info = &recovered.session.info;
    let body = json!({
        "user_id": recovered.user_id,
        "email": info.email,
        "expires_at": info.expires_at,
        "credential_id": recovered.credential_id,
        "passkeys": recovered.passkeys,
    });
    Ok(([(header::SET_COOKIE, set_cookie)], Json(body)))
}
