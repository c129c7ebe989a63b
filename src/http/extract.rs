//! Extractors that guard routes and describe the caller.
//!
//! [`CurrentSession`] is the session guard: 401 without a valid session cookie, 503 when the
//! session store cannot answer. [`OperatorSession`] adds 403 for anyone but an operator.
//! [`Caller`] is what the audit trail and new sessions may record about the client.

use crate::http::error::ErrorCode;
use std::net::IpAddr;

use axum::extract::FromRequestParts;
use axum::http::header;
use axum::http::request::Parts;
use raptor_actors::audit::AuditEntry;
use raptor_actors::session::{user_agent_fragment, SessionInfo};

use super::client_ip::ClientIp;
use super::cookie;
use super::{request_id, ApiError, AppState};
use crate::audit::AuditEvent;

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

/// What we may record about the client: its IP prefix and a user-agent fragment.
#[derive(Debug, Clone)]
pub struct Caller {
    pub ip: IpAddr,
    pub ip_prefix: String,
    pub user_agent: Option<String>,
    pub request_id: Option<String>,
}

impl Caller {
    /// An audit entry for `event` stamped with this caller's prefix and request id.
    pub fn audit(&self, event: AuditEvent) -> AuditEntry {
        let mut entry = event.entry();
        entry.ip_prefix = Some(self.ip_prefix.clone());
        entry.request_id = self.request_id.clone();
        entry
    }

    /// This caller as the accounts domain records it.
    pub fn requester(&self) -> crate::auth::Requester {
        crate::auth::Requester {
            ip_prefix: Some(self.ip_prefix.clone()),
            user_agent: self.user_agent.as_deref().map(user_agent_fragment),
            request_id: self.request_id.clone(),
            client: Some(super::rate_limit::client_key(self.ip).to_string()),
        }
    }
}

impl FromRequestParts<AppState> for Caller {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, ApiError> {
        let ClientIp(ip) = ClientIp::from_request_parts(parts, state).await?;
        Ok(Caller {
            ip,
            ip_prefix: crate::net::ip_prefix(ip),
            user_agent: parts
                .headers
                .get(header::USER_AGENT)
                .and_then(|v| v.to_str().ok())
                .map(str::to_owned),
            request_id: request_id::current(),
        })
    }
}
