//! The one place where failures become HTTP responses, in the SPEC §3 shape:
//! `{"error": {"code": "snake_case", "message": "...", "request_id": "..."}}`.
//!
//! A 5xx never carries the underlying error's text; [`ApiError::internal`] logs it under the
//! same request id instead. Every 5xx is also handed to [`crate::error_reporting`].

use std::borrow::Cow;
use std::time::Duration;

use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use raptor_actors::audit::AppendError;
use raptor_actors::session::{SessionCallError, SessionError};
use raptor_actors::ActorUnavailable;

use crate::db::StorageError;
use crate::input::InvalidInput;

use super::request_id;

#[derive(Debug)]
pub struct ApiError {
    pub status: StatusCode,
    pub code: ErrorCode,
    pub message: Cow<'static, str>,
    pub retry_after: Option<Duration>,
    /// Per-field problems of a 422 (`{"field": "problem"}`), shown as `error.fields`.
    pub fields: Option<serde_json::Map<String, serde_json::Value>>,
}

impl ApiError {
    pub fn new(status: StatusCode, code: ErrorCode, message: impl Into<Cow<'static, str>>) -> Self {
        Self {
            status,
            code,
            message: message.into(),
            retry_after: None,
            fields: None,
        }
    }

    /// The same error naming the problem of each field.
    pub fn with_fields(mut self, fields: serde_json::Map<String, serde_json::Value>) -> Self {
        self.fields = Some(fields);
        self
    }

    /// The same error under a more specific code.
    pub fn with_code(mut self, code: ErrorCode) -> Self {
        self.code = code;
        self
    }

    pub fn with_retry_after(mut self, wait: Duration) -> Self {
        self.retry_after = Some(wait);
        self
    }

    pub fn bad_request(message: impl Into<Cow<'static, str>>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, ErrorCode::BadRequest, message)
    }

    pub fn unauthenticated() -> Self {
        Self::new(
            StatusCode::UNAUTHORIZED,
            ErrorCode::Unauthenticated,
            "sign in first",
        )
    }

    pub fn forbidden(code: ErrorCode, message: impl Into<Cow<'static, str>>) -> Self {
        Self::new(StatusCode::FORBIDDEN, code, message)
    }

    pub fn not_found() -> Self {
        Self::new(
            StatusCode::NOT_FOUND,
            ErrorCode::NotFound,
            "no such resource",
        )
    }

    /// A dependency is down: 503 with a short `Retry-After`.
    pub fn unavailable(message: impl Into<Cow<'static, str>>) -> Self {
        Self::new(
            StatusCode::SERVICE_UNAVAILABLE,
            ErrorCode::ServiceUnavailable,
            message,
        )
        .with_retry_after(Duration::from_secs(1))
    }

    /// An unexpected failure: logged in full (and reported, scrubbed, when error reporting is
    /// on), answered with no detail.
    pub fn internal(error: impl std::fmt::Display) -> Self {
        tracing::error!(%error, "internal error");
        crate::error_reporting::internal_error(&error);
        Self::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            ErrorCode::InternalError,
            "something went wrong",
        )
    }

    /// A 422 naming each field's problem (`error.fields`).
    pub fn invalid_input(code: ErrorCode, invalid: InvalidInput) -> Self {
        let message = invalid
            .problems
            .iter()
            .map(|p| format!("{} {}", p.field, p.problem))
            .collect::<Vec<_>>()
            .join("; ");
        let fields = invalid
            .problems
            .into_iter()
            .map(|p| (p.field.to_owned(), serde_json::Value::from(p.problem)))
            .collect();
        Self::new(StatusCode::UNPROCESSABLE_ENTITY, code, message).with_fields(fields)
    }

    /// The canonical error for a bare status produced outside our handlers (404, 405, 413...).
    pub fn from_status(status: StatusCode) -> Self {
        let (code, message) = match status {
            StatusCode::NOT_FOUND => (ErrorCode::NotFound, "no such resource"),
            StatusCode::METHOD_NOT_ALLOWED => (
                ErrorCode::MethodNotAllowed,
                "method not allowed on this route",
            ),
            StatusCode::PAYLOAD_TOO_LARGE => {
                (ErrorCode::PayloadTooLarge, "request body exceeds 64 KiB")
            }
            StatusCode::UNSUPPORTED_MEDIA_TYPE => {
                (ErrorCode::UnsupportedMediaType, "expected application/json")
            }
            StatusCode::BAD_REQUEST => {
                (ErrorCode::BadRequest, "the request could not be understood")
            }
            StatusCode::UNPROCESSABLE_ENTITY => {
                (ErrorCode::InvalidRequest, "the request is not valid")
            }
            StatusCode::REQUEST_TIMEOUT => (ErrorCode::RequestTimeout, "the request took too long"),
            StatusCode::TOO_MANY_REQUESTS => (ErrorCode::RateLimited, "too many requests"),
            StatusCode::FORBIDDEN => (ErrorCode::Forbidden, "not allowed"),
            StatusCode::UNAUTHORIZED => (ErrorCode::Unauthenticated, "sign in first"),
            s if s.is_server_error() => (ErrorCode::InternalError, "something went wrong"),
            _ => (ErrorCode::RequestError, "the request failed"),
        };
        Self::new(status, code, message)
    }
}

/// Every `error.code` Raptor answers with: the SPA branches on these, so they are a contract.
/// `VARIANTS` (strum) lists them all for the OpenAPI document.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, strum::VariantArray)]
pub enum ErrorCode {
    AccountInactive,
    AlreadyFinished,
    AssetNotTradable,
    BadRequest,
    BrokerError,
    BrokerNotReady,
    BrokerRateLimited,
    BrokerRejected,
    BrokerTimeout,
    BrokerUnreachable,
    CredentialExists,
    CsrfContentType,
    CsrfOrigin,
    EmailNotVerified,
    EmailTaken,
    Forbidden,
    ForbiddenOrigin,
    IdempotencyKeyReused,
    InsufficientBuyingPower,
    InsufficientPosition,
    InternalError,
    InvalidBootstrapToken,
    InvalidCeremony,
    InvalidEmail,
    InvalidName,
    InvalidOrder,
    InvalidQuery,
    InvalidRequest,
    InvalidToken,
    LastPasskey,
    LoginFailed,
    RangeTooLarge,
    ReauthRequired,
    MarketDataUnreachable,
    MarketDataUnavailable,
    MarketDataTimeout,
    MarketDataRejected,
    MarketDataRateLimited,
    MarketDataError,
    MalformedJson,
    MethodNotAllowed,
    NotFinished,
    NotFound,
    OperatorOnly,
    PayloadTooLarge,
    PositionNotFound,
    RateLimited,
    RegistrationFailed,
    RegistrationPending,
    RequestError,
    RequestTimeout,
    RiskLimit,
    ServiceUnavailable,
    TradingDisabled,
    Unauthenticated,
    UnsupportedMediaType,
}

impl ErrorCode {
    /// The snake_case wire name.
    pub fn as_str(self) -> &'static str {
        match self {
            ErrorCode::AccountInactive => "account_inactive",
            ErrorCode::AlreadyFinished => "already_finished",
            ErrorCode::AssetNotTradable => "asset_not_tradable",
            ErrorCode::BadRequest => "bad_request",
            ErrorCode::BrokerError => "broker_error",
            ErrorCode::BrokerNotReady => "broker_not_ready",
            ErrorCode::BrokerRateLimited => "broker_rate_limited",
            ErrorCode::BrokerRejected => "broker_rejected",
            ErrorCode::BrokerTimeout => "broker_timeout",
            ErrorCode::BrokerUnreachable => "broker_unreachable",
            ErrorCode::CredentialExists => "credential_exists",
            ErrorCode::CsrfContentType => "csrf_content_type",
            ErrorCode::CsrfOrigin => "csrf_origin",
            ErrorCode::EmailNotVerified => "email_not_verified",
            ErrorCode::EmailTaken => "email_taken",
            ErrorCode::Forbidden => "forbidden",
            ErrorCode::ForbiddenOrigin => "forbidden_origin",
            ErrorCode::IdempotencyKeyReused => "idempotency_key_reused",
            ErrorCode::InsufficientBuyingPower => "insufficient_buying_power",
            ErrorCode::InsufficientPosition => "insufficient_position",
            ErrorCode::InternalError => "internal_error",
            ErrorCode::InvalidBootstrapToken => "invalid_bootstrap_token",
            ErrorCode::InvalidCeremony => "invalid_ceremony",
            ErrorCode::InvalidEmail => "invalid_email",
            ErrorCode::InvalidName => "invalid_name",
            ErrorCode::InvalidOrder => "invalid_order",
            ErrorCode::InvalidQuery => "invalid_query",
            ErrorCode::InvalidRequest => "invalid_request",
            ErrorCode::InvalidToken => "invalid_token",
            ErrorCode::LastPasskey => "last_passkey",
            ErrorCode::LoginFailed => "login_failed",
            ErrorCode::RangeTooLarge => "range_too_large",
            ErrorCode::ReauthRequired => "reauth_required",
            ErrorCode::MarketDataUnreachable => "market_data_unreachable",
            ErrorCode::MarketDataUnavailable => "market_data_unavailable",
            ErrorCode::MarketDataTimeout => "market_data_timeout",
            ErrorCode::MarketDataRejected => "market_data_rejected",
            ErrorCode::MarketDataRateLimited => "market_data_rate_limited",
            ErrorCode::MarketDataError => "market_data_error",
            ErrorCode::MalformedJson => "malformed_json",
            ErrorCode::MethodNotAllowed => "method_not_allowed",
            ErrorCode::NotFinished => "not_finished",
            ErrorCode::NotFound => "not_found",
            ErrorCode::OperatorOnly => "operator_only",
            ErrorCode::PayloadTooLarge => "payload_too_large",
            ErrorCode::PositionNotFound => "position_not_found",
            ErrorCode::RateLimited => "rate_limited",
            ErrorCode::RegistrationFailed => "registration_failed",
            ErrorCode::RegistrationPending => "registration_pending",
            ErrorCode::RequestError => "request_error",
            ErrorCode::RequestTimeout => "request_timeout",
            ErrorCode::RiskLimit => "risk_limit",
            ErrorCode::ServiceUnavailable => "service_unavailable",
            ErrorCode::TradingDisabled => "trading_disabled",
            ErrorCode::Unauthenticated => "unauthenticated",
            ErrorCode::UnsupportedMediaType => "unsupported_media_type",
        }
    }
}

impl serde::Serialize for ErrorCode {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(self.as_str())
    }
}

impl From<ActorUnavailable> for ApiError {
    fn from(unavailable: ActorUnavailable) -> Self {
        tracing::warn!(
            actor = unavailable.actor,
            "request refused: actor unavailable"
        );
        Self::new(
            StatusCode::SERVICE_UNAVAILABLE,
            ErrorCode::ServiceUnavailable,
            "temporarily unavailable; retry shortly",
        )
        .with_retry_after(Duration::from_secs(1))
    }
}

impl From<SessionCallError> for ApiError {
    fn from(error: SessionCallError) -> Self {
        match error {
            SessionCallError::Unavailable(unavailable) => unavailable.into(),
            SessionCallError::Session(SessionError::Storage) => {
                ApiError::unavailable("session storage is unavailable")
            }
            SessionCallError::Session(SessionError::InactiveUser) => {
                ApiError::forbidden(ErrorCode::AccountInactive, "this account cannot sign in")
            }
        }
    }
}

impl From<StorageError> for ApiError {
    /// The database is gone or busy: 503 (retry). The server refused a statement: 500 (a bug
    /// of ours). The cause goes to the log only.
    fn from(error: StorageError) -> Self {
        if error.is_unavailable() {
            tracing::error!(%error, "database unavailable");
            ApiError::unavailable("the database is unavailable; retry shortly")
        } else {
            ApiError::internal(error)
        }
    }
}

impl From<AppendError> for ApiError {
    fn from(error: AppendError) -> Self {
        match error {
            AppendError::Unavailable(unavailable) => unavailable.into(),
            AppendError::NotDurable => ApiError::unavailable("the audit trail cannot be written"),
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        // A 500 was reported where it arose (`internal`, or the panic hook) with its detail.
        if self.status.is_server_error() && self.code != ErrorCode::InternalError {
            crate::error_reporting::server_error(
                self.status.as_u16(),
                self.code.as_str(),
                &self.message,
            );
        }
        let mut body = serde_json::json!({
            "error": {
                "code": self.code,
                "message": self.message,
                "request_id": request_id::current(),
            }
        });
        if let Some(fields) = self.fields {
            body["error"]["fields"] = serde_json::Value::Object(fields);
        }
        let mut response = (self.status, axum::Json(body)).into_response();
        if let Some(wait) = self.retry_after {
            let secs = wait.as_secs() + u64::from(wait.subsec_nanos() > 0);
            response
                .headers_mut()
                .insert(header::RETRY_AFTER, HeaderValue::from(secs.max(1)));
        }
        response
    }
}
