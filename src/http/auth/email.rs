//! Email verification: `POST /api/auth/email/verify` activates an account with the emailed
//! token; `POST /api/auth/email/resend` queues a new email and always answers 202, so it
//! tells nobody whether an address has an account.

use crate::audit::AuditEvent;
use crate::http::error::ErrorCode;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::IntoResponse;
use axum::Json;
use raptor_actors::mailer::VERIFY_PURPOSE;
use raptor_actors::token;
use serde::Deserialize;
use serde_json::json;

use crate::auth::{repo, Email};
use crate::http::extract::Caller;
use crate::http::{ApiError, ApiJson, AppState};

/// Emails per address per hour that resend will queue.
const RESENDS_PER_ADDRESS_PER_HOUR: i64 = 3;

#[derive(Deserialize)]
pub struct VerifyRequest {
    token: String,
}

pub async fn verify(
    State(state): State<AppState>,
    caller: Caller,
    ApiJson(request): ApiJson<VerifyRequest>,
) -> Result<impl IntoResponse, ApiError> {
    let invalid = || {
        ApiError::bad_request("the link is invalid or has expired")
            .with_code(ErrorCode::InvalidToken)
    };
    if !token::well_formed(&request.token) {
        return Err(invalid());
    }
    let now = state.now();
    let mut client = state.db().await?;
    let tx = client.transaction().await.map_err(ApiError::internal)?;
    let digests = state.hasher().candidates(VERIFY_PURPOSE, &request.token);
    let user_id = repo::consume_verification(&tx, &digests, now)
        .await
        .map_err(ApiError::internal)?
        .ok_or_else(invalid)?;
    let mut entry = caller.audit(AuditEvent::EmailVerify);
    entry.actor_user_id = Some(user_id);
    state.audit(entry).await?;
    tx.commit().await.map_err(ApiError::internal)?;
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
    let accepted = (StatusCode::ACCEPTED, Json(json!({ "status": "accepted" })));
    let Ok(email) = Email::parse(&request.email) else {
        return Ok(accepted);
    };
    let now = state.now();
    let client = state.db().await?;
    let Some(user) = repo::user_by_email(&client, &email)
        .await
        .map_err(ApiError::internal)?
    else {
        return Ok(accepted);
    };
    if user.verified || user.deleted {
        return Ok(accepted);
    }
    let recent = repo::recent_emails_to(&client, email.as_str(), now - chrono::Duration::hours(1))
        .await
        .map_err(ApiError::internal)?;
    if recent < RESENDS_PER_ADDRESS_PER_HOUR {
        repo::enqueue_verification_email(&client, user.id, email.as_str(), now)
            .await
            .map_err(ApiError::internal)?;
        state.actors.mailer.wake();
    }
    Ok(accepted)
}
