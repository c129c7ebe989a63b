//! A signed-in person's sessions: list them, end one, or end all the others
//! (`GET /api/auth/sessions`, `DELETE /api/auth/sessions/{id}`, `DELETE /api/auth/sessions`).

use crate::audit::AuditEvent;
use axum::extract::{Path, State};
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde_json::json;
use uuid::Uuid;

use crate::http::extract::{Caller, CurrentSession};
use crate::http::{cookie, ApiError, AppState};

pub async fn list(
    State(state): State<AppState>,
    CurrentSession(me): CurrentSession,
) -> Result<impl IntoResponse, ApiError> {
    let user_id = me.user_id;
    let sessions = state.actors.sessions.list(user_id).await?;
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
    let user_id = me.user_id;
    let revoked = state.actors.sessions.revoke(user_id, session_id).await?;
    if !revoked {
        return Err(ApiError::not_found());
    }
    let mut entry = caller.audit(AuditEvent::SessionRevoke);
    entry.actor_user_id = Some(user_id);
    entry.subject = Some(session_id.to_string());
    state.audit(entry).await?;
    if session_id == me.session_id {
        return Ok((
            StatusCode::NO_CONTENT,
            [(header::SET_COOKIE, cookie::clear(&state.settings))],
        )
            .into_response());
    }
    Ok(StatusCode::NO_CONTENT.into_response())
}

/// Ends every session of the caller but the current one.
pub async fn revoke_others(
    State(state): State<AppState>,
    caller: Caller,
    CurrentSession(me): CurrentSession,
) -> Result<impl IntoResponse, ApiError> {
    let (user_id, except) = (me.user_id, Some(me.session_id));
    let revoked = state.actors.sessions.revoke_all(user_id, except).await?;
    let mut entry = caller.audit(AuditEvent::SessionRevokeOthers);
    entry.actor_user_id = Some(user_id);
    entry.details = json!({ "revoked": revoked });
    state.audit(entry).await?;
    Ok(Json(json!({ "revoked": revoked })))
}
