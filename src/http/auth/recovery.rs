//! `POST /api/auth/recovery/start`, `/options` and `/verify`: lost-passkey recovery by email
//! ([`crate::auth::recovery`]). `start` is limited per client across dynos
//! (`crate::limits::table::RECOVERY`) and per account (in the use case); it always
//! answers 202 at once and does its work afterwards, so neither its answer nor its timing tells
//! anybody whether an address has an account; `options`/`verify` speak registration's wire
//! format, and a successful verify sets a fresh session cookie exactly as a login does.

use axum::extract::State;
use axum::http::{header, StatusCode};
use axum::response::IntoResponse;
use axum::Json;
use secrecy::ExposeSecret;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use uuid::Uuid;
use webauthn_rs::prelude::RegisterPublicKeyCredential;

use super::ceremony::{CreationCeremony, NewCredential};
use super::email::{Accepted, ACCEPTED};
use super::{accounts, options_body};
use crate::audit::Origin;
use crate::auth::recovery::{finish_recovery, start_recovery};
use crate::auth::recovery_request::request_recovery;
use crate::http::error_schema::ErrorBody;
use crate::http::{ApiError, ApiJson, AppState};

#[derive(Deserialize, ToSchema)]
#[schema(example = json!({"email": "ada@example.com"}))]
#[schema(as = RecoveryStartRequest)]
pub struct StartRequest {
    email: String,
}

/// Always 202, whether or not the address has an account.
#[utoipa::path(
    post,
    path = "/api/auth/recovery/start",
    tag = "auth",
    operation_id = "recovery_start",
    request_body = StartRequest,
    responses(
        (status = 202, description = "Taken; a recovery link follows if the address has a verified account", body = Accepted),
        (status = 429, description = "`rate_limited`: too many requests from this client (10 an hour, every dyno)", body = ErrorBody, headers(("Retry-After" = u64, description = "Seconds"))),
        (status = 503, description = "`service_unavailable`: the database or an actor is down; retry", body = ErrorBody, headers(("Retry-After" = u64, description = "Seconds"))),
    ),
)]
pub async fn start(
    State(state): State<AppState>,
    caller: Origin,
    ApiJson(request): ApiJson<StartRequest>,
) -> Result<impl IntoResponse, ApiError> {
    let accounts = accounts(&state);
    let requester = caller.clone();
    tokio::spawn(async move {
        if let Err(error) = request_recovery(&accounts, &requester, &request.email).await {
            tracing::error!(%error, "recovery email could not be queued");
        }
    });
    Ok((StatusCode::ACCEPTED, Json(ACCEPTED)))
}

#[derive(Deserialize, ToSchema)]
#[schema(example = json!({"token": "the-token-from-the-emailed-link"}))]
#[schema(as = RecoveryOptionsRequest)]
pub struct OptionsRequest {
    /// The `token` of the emailed recovery link.
    token: String,
}

#[utoipa::path(
    post,
    path = "/api/auth/recovery/options",
    tag = "auth",
    operation_id = "recovery_options",
    request_body = OptionsRequest,
    responses(
        (status = 200, description = "A creation ceremony for a new passkey", body = CreationCeremony),
        (status = 400, description = "`invalid_token`: the link is invalid, used or expired (or `malformed_json`)", body = ErrorBody),
        (status = 429, description = "`rate_limited`: too many tokens presented from this client (30 an hour to the token routes together, every dyno)", body = ErrorBody, headers(("Retry-After" = u64, description = "Seconds"))),
        (status = 503, description = "`service_unavailable`: passkeys are not configured, or the database or an actor is down; retry", body = ErrorBody, headers(("Retry-After" = u64, description = "Seconds"))),
    ),
)]
pub async fn options(
    State(state): State<AppState>,
    caller: Origin,
    ApiJson(request): ApiJson<OptionsRequest>,
) -> Result<impl IntoResponse, ApiError> {
    let options = start_recovery(&accounts(&state), &caller, &request.token).await?;
    Ok(options_body(options.ceremony_id, options.challenge))
}

#[derive(Deserialize, ToSchema)]
#[schema(example = json!({
    "ceremony_id": "6a0c1d8e-2f4b-4b7a-9d51-3e8f0c2a7b14",
    "token": "the-token-from-the-emailed-link",
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
#[schema(as = RecoveryVerifyRequest)]
pub struct VerifyRequest {
    ceremony_id: Uuid,
    /// Optional: when sent, it must be the token the ceremony was started with.
    #[serde(default)]
    token: Option<String>,
    #[schema(value_type = NewCredential)]
    credential: RegisterPublicKeyCredential,
}

/// A finished recovery: the account, its new passkey, and the fresh session.
#[derive(Serialize, ToSchema)]
pub struct RecoveredBody {
    user_id: Uuid,
    email: String,
    expires_at: chrono::DateTime<chrono::Utc>,
    credential_id: String,
    /// How many passkeys the account has now, the new one included.
    passkeys: i64,
}

/// Adds the new passkey, ends every other session, and signs in.
#[utoipa::path(
    post,
    path = "/api/auth/recovery/verify",
    tag = "auth",
    operation_id = "recovery_verify",
    request_body = VerifyRequest,
    responses(
        (status = 200, description = "Recovered and signed in", body = RecoveredBody, headers(("Set-Cookie" = String, description = "`session=<token>; HttpOnly; Secure; SameSite=None; Path=/`"))),
        (status = 400, description = "`invalid_ceremony`, `invalid_token`, `registration_failed` (the credential was refused), or `malformed_json`", body = ErrorBody),
        (status = 403, description = "`account_inactive`: the account cannot sign in (or a shared 403)", body = ErrorBody),
        (status = 409, description = "`credential_exists`: this passkey is already registered", body = ErrorBody),
        (status = 429, description = "`rate_limited`: too many tokens presented from this client (30 an hour to the token routes together, every dyno)", body = ErrorBody, headers(("Retry-After" = u64, description = "Seconds"))),
        (status = 503, description = "`service_unavailable`: passkeys are not configured, or the database or an actor is down; retry", body = ErrorBody, headers(("Retry-After" = u64, description = "Seconds"))),
    ),
)]
pub async fn verify(
    State(state): State<AppState>,
    caller: Origin,
    ApiJson(request): ApiJson<VerifyRequest>,
) -> Result<impl IntoResponse, ApiError> {
    let recovered = finish_recovery(
        &accounts(&state),
        &caller,
        request.ceremony_id,
        request.token.as_deref(),
        &request.credential,
    )
    .await?;
    let now = state.now();
    let until = now + state.session_policy().absolute;
    let token = recovered.session.token.expose_secret();
    let set_cookie = state.cookie.issue(token, until, now);
    let info = &recovered.session.info;
    let body = RecoveredBody {
        user_id: recovered.user_id,
        email: info.email.clone(),
        expires_at: info.expires_at,
        credential_id: recovered.credential_id,
        passkeys: recovered.passkeys,
    };
    Ok(([(header::SET_COOKIE, set_cookie)], Json(body)))
}
