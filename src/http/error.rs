//! The one place where failures become HTTP responses, in the SPEC §3 shape:
//! `{"error": {"code": "snake_case", "message": "...", "request_id": "..."}}`.
//!
//! A 5xx never carries the underlying error's text; [`ApiError::internal`] logs it under the
//! same request id instead.

use std::borrow::Cow;
use std::time::Duration;

use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use raptor_actors::ActorUnavailable;

use super::request_id;

#[derive(Debug)]
pub struct ApiError {
    pub status: StatusCode,
    pub code: &'static str,
    pub message: Cow<'static, str>,
    pub retry_after: Option<Duration>,
    /// Per-field problems of a 422 (`{"field": "problem"}`), shown as `error.fields`.
    pub fields: Option<serde_json::Map<String, serde_json::Value>>,
}

impl ApiError {
    pub fn new(
        status: StatusCode,
        code: &'static str,
        message: impl Into<Cow<'static, str>>,
    ) -> Self {
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
    pub fn with_code(mut self, code: &'static str) -> Self {
        self.code = code;
        self
    }

    pub fn with_retry_after(mut self, wait: Duration) -> Self {
        self.retry_after = Some(wait);
        self
    }

    pub fn bad_request(message: impl Into<Cow<'static, str>>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, "bad_request", message)
    }

    pub fn unauthenticated() -> Self {
        Self::new(StatusCode::UNAUTHORIZED, "unauthenticated", "sign in first")
    }

    pub fn forbidden(code: &'static str, message: impl Into<Cow<'static, str>>) -> Self {
        Self::new(StatusCode::FORBIDDEN, code, message)
    }

    pub fn not_found() -> Self {
        Self::new(StatusCode::NOT_FOUND, "not_found", "no such resource")
    }

    /// A dependency is down: 503 with a short `Retry-After`.
    pub fn unavailable(message: impl Into<Cow<'static, str>>) -> Self {
        Self::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "service_unavailable",
            message,
        )
        .with_retry_after(Duration::from_secs(1))
    }

    /// An unexpected failure: logged in full, answered with no detail.
    pub fn internal(error: impl std::fmt::Display) -> Self {
        tracing::error!(%error, "internal error");
        Self::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            "internal_error",
            "something went wrong",
        )
    }

    /// The canonical error for a bare status produced outside our handlers (404, 405, 413...).
    pub fn from_status(status: StatusCode) -> Self {
        let (code, message) = match status {
            StatusCode::NOT_FOUND => ("not_found", "no such resource"),
            StatusCode::METHOD_NOT_ALLOWED => {
                ("method_not_allowed", "method not allowed on this route")
            }
            StatusCode::PAYLOAD_TOO_LARGE => ("payload_too_large", "request body exceeds 64 KiB"),
            StatusCode::UNSUPPORTED_MEDIA_TYPE => {
                ("unsupported_media_type", "expected application/json")
            }
            StatusCode::BAD_REQUEST => ("bad_request", "the request could not be understood"),
            StatusCode::UNPROCESSABLE_ENTITY => ("invalid_request", "the request is not valid"),
            StatusCode::REQUEST_TIMEOUT => ("request_timeout", "the request took too long"),
            StatusCode::TOO_MANY_REQUESTS => ("rate_limited", "too many requests"),
            StatusCode::FORBIDDEN => ("forbidden", "not allowed"),
            StatusCode::UNAUTHORIZED => ("unauthenticated", "sign in first"),
            s if s.is_server_error() => ("internal_error", "something went wrong"),
            _ => ("request_error", "the request failed"),
        };
        Self::new(status, code, message)
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
            "service_unavailable",
            "temporarily unavailable; retry shortly",
        )
        .with_retry_after(Duration::from_secs(1))
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
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
