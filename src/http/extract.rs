//! Extractors that guard routes and describe the caller.
//!
//! [`CurrentSession`] is the session guard: 401 without a valid session cookie, 503 when the
//! session store cannot answer. [`OperatorSession`] adds 403 for anyone but an operator.
//! [`Origin`] (who asked) is what the audit trail and new sessions may record about the client.

use crate::http::error::ErrorCode;

use axum::extract::FromRequestParts;
use axum::http::header;
use axum::http::request::Parts;
use raptor_actors::session::{user_agent_fragment, SessionInfo};

use super::client_ip::ClientIp;
use super::cookie;
use super::{request_id, ApiError, AppState};
use crate::audit::Origin;

/// A signed-in caller.
#[derive(Debug, Clone)]
pub struct CurrentSession(pub SessionInfo);

impl FromRequestParts<AppState> for CurrentSession {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, ApiError> {
        let token = cookie::session_token(&parts.headers).ok_or_else(ApiError::unauthenticated)?;
        let info = state
            .actors
            .sessions
            .validate(token)
            .await?
            .ok_or_else(ApiError::unauthenticated)?;
        crate::telemetry::request::record_user(info.user_id);
        Ok(CurrentSession(info))
    }
}

/// A signed-in operator.
#[derive(Debug, Clone)]
pub struct OperatorSession(pub SessionInfo);

impl FromRequestParts<AppState> for OperatorSession {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, ApiError> {
        let CurrentSession(info) = CurrentSession::from_request_parts(parts, state).await?;
        if !info.is_operator {
            return Err(ApiError::forbidden(
                ErrorCode::OperatorOnly,
                "this route is for operators",
            ));
        }
        Ok(OperatorSession(info))
    }
}

/// Who asked ([`Origin`]), from the request: the client's IP prefix and rate-limit identity, a
/// user-agent fragment, the request id.
impl FromRequestParts<AppState> for Origin {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, ApiError> {
        let ClientIp(ip) = ClientIp::from_request_parts(parts, state).await?;
        Ok(Origin {
            ip_prefix: Some(crate::net::ip_prefix(ip)),
            user_agent: parts
                .headers
                .get(header::USER_AGENT)
                .and_then(|v| v.to_str().ok())
                .map(user_agent_fragment),
            request_id: request_id::current(),
            client: Some(super::rate_limit::client_key(ip).to_string()),
        })
    }
}
