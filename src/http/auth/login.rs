//! `POST /api/auth/login/options` and `/verify`: passkey sign-in ([`crate::auth::login`]). A
//! successful verify sets a fresh session cookie.

use axum::extract::State;
use axum::http::header;
use axum::response::IntoResponse;
use axum::Json;
use secrecy::ExposeSecret;
use serde::Deserialize;
use utoipa::ToSchema;
use uuid::Uuid;
use webauthn_rs::prelude::PublicKeyCredential;

use super::ceremony::{Assertion, RequestCeremony};
use super::{accounts, options_body, SessionBody};
use crate::audit::Origin;
use crate::auth::login::{finish_login, start_login};
use crate::http::error_schema::ErrorBody;
use crate::http::{ApiError, ApiJson, AppState};

/// Without an email: a discoverable (autofill) login, answered with `mediation: "conditional"`.
#[derive(Deserialize, Default, ToSchema)]
#[schema(example = json!({"email": "ada@example.com"}))]
#[schema(as = LoginOptionsRequest)]
pub struct OptionsRequest {
    #[serde(default)]
    email: Option<String>,
}

#[utoipa::path(
    post,
    path = "/api/auth/login/options",
    tag = "auth",
    operation_id = "login_options",
    request_body = OptionsRequest,
    responses(
        (status = 200, description = "A login ceremony", body = RequestCeremony),
        (status = 429, description = "`rate_limited`: too many ceremonies from this client (60 a minute, every dyno)", body = ErrorBody, headers(("Retry-After" = u64, description = "Seconds"))),
        (status = 503, description = "`service_unavailable`: passkeys are not configured, or the database or an actor is down; retry", body = ErrorBody, headers(("Retry-After" = u64, description = "Seconds"))),
    ),
)]
pub async fn options(
    State(state): State<AppState>,
    ApiJson(request): ApiJson<OptionsRequest>,
) -> Result<impl IntoResponse, ApiError> {
    let options = start_login(&accounts(&state), request.email.as_deref()).await?;
    Ok(options_body(options.ceremony_id, options.challenge))
}

#[derive(Deserialize, ToSchema)]
#[schema(example = json!({
    "ceremony_id": "6a0c1d8e-2f4b-4b7a-9d51-3e8f0c2a7b14",
    "credential": {
        "id": "xPq3iW8n0d5l8Pq3iW8n0d5l8Pq",
        "rawId": "xPq3iW8n0d5l8Pq3iW8n0d5l8Pq",
        "type": "public-key",
        "response": {
            "authenticatorData": "SZYN5YgOjGh0NBcPZHZgW4_krrmihjLHmVzzuoMdl2MFAAAAAQ",
            "clientDataJSON": "eyJ0eXBlIjoid2ViYXV0aG4uZ2V0IiwiY2hhbGxlbmdlIjoi...",
            "signature": "MEUCIQDq...",
            "userHandle": "b8d2d9b4e1c24a6c9c3f0f6e2a7b5d10"
        },
        "clientExtensionResults": {}
    }
}))]
#[schema(as = LoginVerifyRequest)]
pub struct VerifyRequest {
    ceremony_id: Uuid,
    #[schema(value_type = Assertion)]
    credential: PublicKeyCredential,
}

/// Finishes the login: a fresh session cookie.
#[utoipa::path(
    post,
    path = "/api/auth/login/verify",
    tag = "auth",
    operation_id = "login_verify",
    request_body = VerifyRequest,
    responses(
        (status = 200, description = "Signed in", body = SessionBody, headers(("Set-Cookie" = String, description = "`session=<token>; HttpOnly; Secure; SameSite=None; Path=/`"))),
        (status = 400, description = "`invalid_ceremony`: the ceremony is unknown, used or expired (or `malformed_json`)", body = ErrorBody),
        (status = 401, description = "`login_failed`: the passkey could not be verified", body = ErrorBody),
        (status = 403, description = "`email_not_verified`: verify the email first; `account_inactive`; or a shared 403", body = ErrorBody),
        (status = 429, description = "`rate_limited`: too many login attempts from this client (60 a minute, every dyno)", body = ErrorBody, headers(("Retry-After" = u64, description = "Seconds"))),
        (status = 503, description = "`service_unavailable`: passkeys are not configured, or the database or an actor is down; retry", body = ErrorBody, headers(("Retry-After" = u64, description = "Seconds"))),
    ),
)]
pub async fn verify(
    State(state): State<AppState>,
    caller: Origin,
    ApiJson(request): ApiJson<VerifyRequest>,
) -> Result<impl IntoResponse, ApiError> {
    let accounts = accounts(&state);
    let requester = caller.clone();
    let issued = finish_login(
        &accounts,
        &requester,
        request.ceremony_id,
        &request.credential,
    )
    .await?;
    let now = state.now();
    let until = now + state.session_policy().absolute;
    let set_cookie = state.cookie.issue(issued.token.expose_secret(), until, now);
    Ok((
        [(header::SET_COOKIE, set_cookie)],
        Json(SessionBody::from(&issued.info)),
    ))
}
