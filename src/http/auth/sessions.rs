//! A signed-in person's sessions: list them, end one, or end all the others
//! (`GET /api/auth/sessions`, `DELETE /api/auth/sessions/{id}`, `DELETE /api/auth/sessions`).

use axum::extract::{Path, State};
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde_json::json;
use uuid::Uuid;

use super::accounts;
use crate::auth::sessions::{list_sessions, revoke_other_sessions, revoke_session};
use crate::http::extract::{Caller, CurrentSession};
use crate::http::{cookie, ApiError, AppState};

pub async fn list(
    State(state): State<AppState>,
    CurrentSession(me): CurrentSession,
) -> Result<impl IntoResponse, ApiError> {
    let sessions = list_sessions(&accounts(&state), &me).await?;
    let sessions: Vec<_> = sessions
        .into_iter()
        .map(|s| {
            json!({
                "session_id": s.session_id,
                "created_at": s.created_at,
                "last_seen_at": s.last_seen_at,
                "expires_at": s.expires_at,
                "ip_prefix": s.ip_prefix,
                "user_agent": s.user_agent,
                "current": s.session_id == me.session_id,
            })
        })
        .collect();
    Ok(Json(json!({ "sessions": sessions })))
}

/// Ends one of the caller's own sessions; ending the current one also clears the cookie.
pub async fn revoke(
    State(state): State<AppState>,
    caller: Caller,
    CurrentSession(me): CurrentSession,
    Path(session_id): Path<Uuid>,
) -> Result<Response, ApiError> {
    revoke_session(&accounts(&state), &caller.requester(), &me, session_id).await?;
    if session_id == me.session_id {
        let clear = [(header::SET_COOKIE, cookie::clear(&state.settings))];
        return Ok((StatusCode::NO_CONTENT, clear).into_response());
    }
    Ok(StatusCode::NO_CONTENT.into_response())
}

/// Ends every session of the caller but the current one.
pub async fn revoke_others(
    State(state): State<AppState>,
    caller: Caller,
    CurrentSession(me): CurrentSession,
) -> Result<impl IntoResponse, ApiError> {
    let revoked = revoke_other_sessions(&accounts(&state), &caller.requester(), &me).await?;
    Ok(Json(json!({ "revoked": revoked })))
}
