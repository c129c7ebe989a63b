//! `POST /api/auth/email/verify` activates an account with the emailed token;
//! `POST /api/auth/email/resend` always answers 202 at once and does its work afterwards, so
//! neither its answer nor its timing tells anybody whether an address has an account.

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::IntoResponse;
use axum::Json;
use serde::Deserialize;
use serde_json::json;

use super::accounts;
use crate::auth::verification::{resend_verification, verify_email};
use crate::http::error::ErrorCode;
use crate::http::extract::Caller;
use crate::http::{ApiError, ApiJson, AppState};

#[derive(Deserialize)]
pub struct VerifyRequest {
    token: String,
}

pub async fn verify(
    State(state): State<AppState>,
    caller: Caller,
    ApiJson(request): ApiJson<VerifyRequest>,
) -> Result<impl IntoResponse, ApiError> {
    verify_email(&accounts(&state), &caller.requester(), &request.token).await?;
    Ok(Json(json!({ "verified": true })))
}

#[derive(Deserialize)]
pub struct ResendRequest {
    email: String,
}

pub async fn resend(
    State(state): State<AppState>,
    caller: Caller,
    ApiJson(request): ApiJson<ResendRequest>,
) -> Result<impl IntoResponse, ApiError> {
    if let Err(wait) = state.resend_limiter.check(caller.ip) {
        return Err(ApiError::new(
            StatusCode::TOO_MANY_REQUESTS,
            ErrorCode::RateLimited,
            "too many requests; slow down",
        )
        .with_retry_after(wait));
    }
    let accounts = accounts(&state);
    tokio::spawn(async move {
        if let Err(error) = resend_verification(&accounts, &request.email).await {
            tracing::error!(%error, "verification email could not be queued");
        }
    });
    Ok((StatusCode::ACCEPTED, Json(json!({ "status": "accepted" }))))
}
