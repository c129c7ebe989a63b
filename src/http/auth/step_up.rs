//! Step-up (issue 24, item 2): [`SteppedUpSession`], the guard of the dangerous routes (adding
//! or removing a passkey, ending every other session, erasing the account), and
//! `POST /api/auth/reauth/options` + `/verify`, which refresh a session's last passkey
//! assertion ([`crate::auth::step_up`]).

use axum::extract::{FromRequestParts, State};
use axum::http::request::Parts;
use axum::http::StatusCode;
use axum::response::IntoResponse;
use axum::Json;
use chrono::{DateTime, Utc};
use raptor_actors::session::SessionInfo;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use uuid::Uuid;
use webauthn_rs::prelude::PublicKeyCredential;

use super::ceremony::{Assertion, RequestCeremony};
use super::{accounts, options_body};
use crate::audit::Origin;
use crate::auth::step_up::{self, ReauthError, StepUpError};
use crate::http::error::ErrorCode;
use crate::http::error_schema::ErrorBody;
use crate::http::extract::CurrentSession;
use crate::http::{ApiError, ApiJson, AppState};

/// A signed-in caller whose session proved a passkey within `STEP_UP_WINDOW_SECS`: 401
/// `unauthenticated` without a session, 401 `reauth_required` when its last assertion is older.
#[derive(Debug, Clone)]
pub struct SteppedUpSession(pub SessionInfo);

impl FromRequestParts<AppState> for SteppedUpSession {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, ApiError> {
        let CurrentSession(me) = CurrentSession::from_request_parts(parts, state).await?;
        step_up::require_recent_assertion(&accounts(state), &me).await?;
        Ok(SteppedUpSession(me))
    }
}

impl From<StepUpError> for ApiError {
    fn from(error: StepUpError) -> Self {
        match error {
            StepUpError::ReauthRequired => ApiError::new(
                StatusCode::UNAUTHORIZED,
                ErrorCode::ReauthRequired,
                "confirm with your passkey first: POST /api/auth/reauth/options, then /verify",
            ),
            StepUpError::Session(e) => e.into(),
        }
    }
}

impl From<ReauthError> for ApiError {
    fn from(error: ReauthError) -> Self {
        match error {
            ReauthError::NotConfigured(e) => e.into(),
            ReauthError::InvalidCeremony => {
                ApiError::bad_request("the ceremony is unknown, used or expired; start again")
                    .with_code(ErrorCode::InvalidCeremony)
            }
            ReauthError::Failed => ApiError::new(
                StatusCode::UNAUTHORIZED,
                ErrorCode::LoginFailed,
                "the passkey could not be verified",
            ),
            ReauthError::Library(e) => ApiError::internal(e),
            ReauthError::Storage(e) => e.into(),
            ReauthError::Audit(e) => e.into(),
            ReauthError::Session(e) => e.into(),
        }
    }
}

/// `POST /api/auth/reauth/options`: a passkey ceremony for the signed-in account. No body.
#[utoipa::path(
    post,
    path = "/api/auth/reauth/options",
    tag = "auth",
    operation_id = "reauth_options",
    security(("session" = [])),
    responses(
        (status = 200, description = "A request ceremony for the signed-in account's passkeys (`allowCredentials` lists them); finish it within 5 minutes", body = RequestCeremony),
        (status = 401, description = "`unauthenticated`: no valid session", body = ErrorBody),
        (status = 503, description = "`service_unavailable`: passkeys are not configured, or the database or an actor is down; retry", body = ErrorBody, headers(("Retry-After" = u64, description = "Seconds"))),
    ),
)]
pub async fn options(
    State(state): State<AppState>,
    CurrentSession(me): CurrentSession,
) -> Result<impl IntoResponse, ApiError> {
    let options = step_up::start_reauth(&accounts(&state), &me).await?;
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
#[schema(as = ReauthVerifyRequest)]
pub struct VerifyRequest {
    ceremony_id: Uuid,
    #[schema(value_type = Assertion)]
    credential: PublicKeyCredential,
}

/// When the session last proved a passkey, and until when the dangerous routes accept it.
#[derive(Serialize, ToSchema)]
pub struct SteppedUp {
    asserted_at: DateTime<Utc>,
    step_up_expires_at: DateTime<Utc>,
}

/// `POST /api/auth/reauth/verify`: proves a passkey of the signed-in account again.
#[utoipa::path(
    post,
    path = "/api/auth/reauth/verify",
    tag = "auth",
    operation_id = "reauth_verify",
    security(("session" = [])),
    request_body = VerifyRequest,
    responses(
        (status = 200, description = "The session may make dangerous changes until `step_up_expires_at` (`STEP_UP_WINDOW_SECS` after the assertion)", body = SteppedUp),
        (status = 400, description = "`invalid_ceremony`: unknown, used, expired, another account's or not a step-up ceremony (or `malformed_json`)", body = ErrorBody),
        (status = 401, description = "`login_failed`: not a passkey of this account, or its assertion was refused; `unauthenticated`: no valid session", body = ErrorBody),
        (status = 422, description = "`invalid_request`: the body does not have the documented shape", body = ErrorBody),
        (status = 503, description = "`service_unavailable`: passkeys are not configured, or the database or an actor is down; retry", body = ErrorBody, headers(("Retry-After" = u64, description = "Seconds"))),
    ),
)]
pub async fn verify(
    State(state): State<AppState>,
    caller: Origin,
    CurrentSession(me): CurrentSession,
    ApiJson(request): ApiJson<VerifyRequest>,
) -> Result<impl IntoResponse, ApiError> {
    let accounts = accounts(&state);
    let requester = caller.clone();
    let asserted_at = step_up::finish_reauth(
        &accounts,
        &requester,
        &me,
        request.ceremony_id,
        &request.credential,
    )
    .await?;
    Ok(Json(SteppedUp {
        asserted_at,
        step_up_expires_at: asserted_at + accounts.step_up_window,
    }))
}
