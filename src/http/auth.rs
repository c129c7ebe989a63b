//! Auth routes. Until accounts exist, `GET /api/auth/session` only asks the session store
//! about the cookie, so the guard's behaviour (401 without a valid session, 503 while the store
//! is down) is already the one protected routes will rely on.

use axum::extract::State;
use axum::http::header;
use axum::http::HeaderMap;
use axum::response::IntoResponse;
use axum::Json;
use raptor_actors::session::SessionMsg;
use raptor_actors::slot::DEFAULT_CALL_TIMEOUT;

use super::{ApiError, AppState};

pub const SESSION_COOKIE: &str = "session";

/// The `session` cookie's value, if the request has one.
pub fn session_cookie(headers: &HeaderMap) -> Option<String> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(name, _)| *name == SESSION_COOKIE)
        .map(|(_, value)| value.to_owned())
}

pub async fn session(
    State(state): State<AppState>,
    headers: HeaderMap,
) -> Result<impl IntoResponse, ApiError> {
    let token = session_cookie(&headers).ok_or_else(ApiError::unauthenticated)?;
    let info = state
        .actors
        .sessions
        .ask(
            |reply| SessionMsg::Validate { token, reply },
            DEFAULT_CALL_TIMEOUT,
        )
        .await?
        .ok_or_else(ApiError::unauthenticated)?;
    Ok(Json(serde_json::json!({
        "user_id": info.user_id,
        "expires_at": info.expires_at,
    })))
}
