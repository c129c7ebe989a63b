//! A signed-in person's sessions: list them, end one, or end all the others
//! (`GET /api/auth/sessions`, `DELETE /api/auth/sessions/{id}`, `DELETE /api/auth/sessions`).

use axum::extract::{Path, State};
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use chrono::{DateTime, Utc};
use serde::Serialize;
use utoipa::ToSchema;
use uuid::Uuid;

use super::{accounts, SteppedUpSession};
use crate::audit::Origin;
use crate::auth::sessions::{list_sessions, revoke_other_sessions, revoke_session};
use crate::http::error_schema::ErrorBody;
use crate::http::extract::CurrentSession;
use crate::http::{ApiError, AppState};

/// One of the caller's live sessions.
#[derive(Serialize, ToSchema)]
pub struct SessionView {
    session_id: Uuid,
    created_at: DateTime<Utc>,
    last_seen_at: DateTime<Utc>,
    expires_at: DateTime<Utc>,
    /// `/24` (IPv4) or `/48` (IPv6) of where it was started; never a full address.
    ip_prefix: Option<String>,
    /// A short fragment of the browser's user agent.
    user_agent: Option<String>,
    /// Whether this is the session making the request.
    current: bool,
}

/// `{"sessions": [...]}`.
#[derive(Serialize, ToSchema)]
pub struct SessionList {
    sessions: Vec<SessionView>,
}

/// `{"revoked": n}`: how many sessions were ended.
#[derive(Serialize, ToSchema)]
pub struct RevokedCount {
    revoked: usize,
}

#[utoipa::path(
    get,
    path = "/api/auth/sessions",
    tag = "auth",
    operation_id = "list_sessions",
    security(("session" = [])),
    responses((status = 200, description = "The caller's live sessions", body = SessionList)),
)]
pub async fn list(
    State(state): State<AppState>,
    CurrentSession(me): CurrentSession,
) -> Result<impl IntoResponse, ApiError> {
    let sessions = list_sessions(&accounts(&state), &me).await?;
    let sessions = sessions
        .into_iter()
        .map(|s| SessionView {
            current: s.session_id == me.session_id,
            session_id: s.session_id,
            created_at: s.created_at,
            last_seen_at: s.last_seen_at,
            expires_at: s.expires_at,
            ip_prefix: s.ip_prefix,
            user_agent: s.user_agent,
        })
        .collect();
    Ok(Json(SessionList { sessions }))
}

/// Ends one of the caller's own sessions; ending the current one also clears the cookie.
#[utoipa::path(
    delete,
    path = "/api/auth/sessions/{id}",
    tag = "auth",
    operation_id = "revoke_session",
    security(("session" = [])),
    params(("id" = Uuid, Path, description = "The session's `session_id` (from the list)")),
    responses(
        (status = 204, description = "Ended (and the cookie cleared when it was the current one)"),
        (status = 400, description = "`bad_request`: the id is not a UUID", body = ErrorBody),
        (status = 404, description = "`not_found`: no such live session of yours", body = ErrorBody),
    ),
)]
pub async fn revoke(
    State(state): State<AppState>,
    caller: Origin,
    CurrentSession(me): CurrentSession,
    Path(session_id): Path<Uuid>,
) -> Result<Response, ApiError> {
    revoke_session(&accounts(&state), &caller, &me, session_id).await?;
    if session_id == me.session_id {
        let clear = [(header::SET_COOKIE, state.cookie.clear())];
        return Ok((StatusCode::NO_CONTENT, clear).into_response());
    }
    Ok(StatusCode::NO_CONTENT.into_response())
}

/// Ends every session of the caller but the current one.
#[utoipa::path(
    delete,
    path = "/api/auth/sessions",
    tag = "auth",
    operation_id = "revoke_other_sessions",
    security(("session" = [])),
    responses(
        (status = 200, description = "The other sessions are ended", body = RevokedCount),
        (status = 401, description = "`reauth_required`: the session's last passkey assertion is older than `STEP_UP_WINDOW_SECS` (300 s); POST /api/auth/reauth/options and /verify, then retry (or `unauthenticated`)", body = ErrorBody),
    ),
)]
pub async fn revoke_others(
    State(state): State<AppState>,
    caller: Origin,
    SteppedUpSession(me): SteppedUpSession,
) -> Result<impl IntoResponse, ApiError> {
    let revoked = revoke_other_sessions(&accounts(&state), &caller, &me).await?;
    Ok(Json(RevokedCount { revoked }))
}
