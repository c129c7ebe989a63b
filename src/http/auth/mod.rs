//! Auth routes (SPEC §3–§4): passkey registration and login, email verification, the current
//! session and signing out.

mod email;
mod login;
mod passkeys;
mod register;
mod sessions;

use crate::audit::AuditEvent;
use crate::http::error::ErrorCode;
use axum::extract::State;
use axum::http::{header, StatusCode};
use axum::response::IntoResponse;
use axum::routing::{delete, get, patch, post};
use axum::Json;
use axum::Router;
use raptor_actors::session::SessionInfo;
use serde::Serialize;

use super::extract::{Caller, CurrentSession};
use super::{cookie, ApiError, AppState};

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/api/auth/register/options", post(register::options))
        .route("/api/auth/register/verify", post(register::verify))
        .route("/api/auth/email/verify", post(email::verify))
        .route("/api/auth/email/resend", post(email::resend))
        .route("/api/auth/login/options", post(login::options))
        .route("/api/auth/login/verify", post(login::verify))
        .route("/api/auth/session", get(session))
        .route("/api/auth/logout", post(logout))
        .route(
            "/api/auth/sessions",
            get(sessions::list).delete(sessions::revoke_others),
        )
        .route("/api/auth/sessions/{id}", delete(sessions::revoke))
        .route("/api/auth/passkeys", get(passkeys::list))
        .route("/api/auth/passkeys/options", post(passkeys::options))
        .route("/api/auth/passkeys/verify", post(passkeys::add))
        .route(
            "/api/auth/passkeys/{id}",
            patch(passkeys::rename).delete(passkeys::remove),
        )
}

fn invalid_ceremony() -> ApiError {
    ApiError::bad_request("the ceremony is unknown, used or expired; start again")
        .with_code(ErrorCode::InvalidCeremony)
}

fn invalid_email() -> ApiError {
    ApiError::new(
        StatusCode::UNPROCESSABLE_ENTITY,
        ErrorCode::InvalidEmail,
        "not a valid email address",
    )
}

/// The body of `GET /api/auth/session` and of a successful login.
#[derive(Debug, Serialize)]
pub struct SessionBody {
    pub user_id: uuid::Uuid,
    pub email: String,
    pub expires_at: chrono::DateTime<chrono::Utc>,
}

impl From<&SessionInfo> for SessionBody {
    fn from(info: &SessionInfo) -> Self {
        Self {
            user_id: info.user_id,
            email: info.email.clone(),
            expires_at: info.expires_at,
        }
    }
}

pub async fn session(CurrentSession(info): CurrentSession) -> Json<SessionBody> {
    Json(SessionBody::from(&info))
}

/// `POST /api/auth/logout`: revoke on every dyno, then clear the cookie.
pub async fn logout(
    State(state): State<AppState>,
    caller: Caller,
    CurrentSession(info): CurrentSession,
) -> Result<impl IntoResponse, ApiError> {
    let (user_id, session_id) = (info.user_id, info.session_id);
    state.actors.sessions.revoke(user_id, session_id).await?;
    let mut entry = caller.audit(AuditEvent::Logout);
    entry.actor_user_id = Some(user_id);
    entry.subject = Some(session_id.to_string());
    state.audit(entry).await?;
    Ok((
        StatusCode::NO_CONTENT,
        [(header::SET_COOKIE, cookie::clear(&state.settings))],
    ))
}
