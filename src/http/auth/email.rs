//! `POST /api/auth/email/verify` activates an account with the emailed token;
//! `POST /api/auth/email/resend` always answers 202 at once and does its work afterwards, so
//! neither its answer nor its timing tells anybody whether an address has an account.

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::IntoResponse;
use axum::Json;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::accounts;
use crate::audit::Origin;
use crate::auth::verification::{resend_verification, verify_email};
use crate::http::error_schema::ErrorBody;
use crate::http::{ApiError, ApiJson, AppState};

#[derive(Deserialize, ToSchema)]
#[schema(example = json!({"token": "the-token-from-the-emailed-link"}))]
#[schema(as = VerifyEmailRequest)]
pub struct VerifyRequest {
    /// The `token` of the emailed `/verify-email?token=…` link.
    token: String,
}

/// `{"verified": true}`.
#[derive(Serialize, ToSchema)]
pub struct Verified {
    verified: bool,
}

#[utoipa::path(
    post,
    path = "/api/auth/email/verify",
    tag = "auth",
    operation_id = "verify_email",
    request_body = VerifyRequest,
    responses(
        (status = 200, description = "The account is active", body = Verified),
        (status = 400, description = "`invalid_token`: the link is invalid, used or expired (or `malformed_json`)", body = ErrorBody),
        (status = 429, description = "`rate_limited`: too many tokens presented from this client (30 an hour to the token routes together, every dyno)", body = ErrorBody, headers(("Retry-After" = u64, description = "Seconds"))),
        (status = 503, description = "`service_unavailable`: the database or an actor is down; retry", body = ErrorBody, headers(("Retry-After" = u64, description = "Seconds"))),
    ),
)]
pub async fn verify(
    State(state): State<AppState>,
    caller: Origin,
    ApiJson(request): ApiJson<VerifyRequest>,
) -> Result<impl IntoResponse, ApiError> {
    let user_id = verify_email(&accounts(&state), &caller, &request.token).await?;
    // The account is active: its paper book opens now, with today's initial cash. Should this
    // fail, the first trading request opens it instead (`trading::account::book`).
    let opened = crate::trading::book::open_book(
        &state.pool,
        &state.actors.audit,
        user_id,
        state.risk.initial_cash,
        state.now(),
    )
    .await;
    if let Err(error) = opened {
        tracing::warn!(%error, %user_id, "the paper book could not be opened at activation");
    }
    Ok(Json(Verified { verified: true }))
}

#[derive(Deserialize, ToSchema)]
#[schema(example = json!({"email": "ada@example.com"}))]
pub struct ResendRequest {
    email: String,
}

/// `{"status": "accepted"}`: the request was taken; its outcome is not told.
#[derive(serde::Serialize, ToSchema)]
pub struct Accepted {
    #[schema(example = "accepted")]
    status: &'static str,
}

pub(super) const ACCEPTED: Accepted = Accepted { status: "accepted" };

/// Always 202, whether or not the address has an account.
#[utoipa::path(
    post,
    path = "/api/auth/email/resend",
    tag = "auth",
    operation_id = "resend_verification_email",
    request_body = ResendRequest,
    responses(
        (status = 202, description = "Taken; an email follows if the address has an unverified account", body = Accepted),
        (status = 429, description = "`rate_limited`: too many requests from this client (per process and 10 an hour on every dyno)", body = ErrorBody, headers(("Retry-After" = u64, description = "Seconds"))),
        (status = 503, description = "`service_unavailable`: the database or an actor is down; retry", body = ErrorBody, headers(("Retry-After" = u64, description = "Seconds"))),
    ),
)]
pub async fn resend(
    State(state): State<AppState>,
    ApiJson(request): ApiJson<ResendRequest>,
) -> Result<impl IntoResponse, ApiError> {
    let accounts = accounts(&state);
    tokio::spawn(async move {
        if let Err(error) = resend_verification(&accounts, &request.email).await {
            tracing::error!(%error, "verification email could not be queued");
        }
    });
    Ok((StatusCode::ACCEPTED, Json(ACCEPTED)))
}
