//! CSRF defence for a `SameSite=None` session cookie.
//!
//! A state-changing request (anything but GET, HEAD, OPTIONS) that carries a cookie must name
//! exactly one allowed `Origin`, and if it has a body, the body must be JSON. Browsers cannot send a
//! cross-site JSON request without a CORS preflight, which the allowlist refuses, and every
//! HTML form carries a non-JSON body, so a forged request is stopped here with 403.

use crate::http::error::ErrorCode;
use axum::http::{header, HeaderMap, Method};

use super::security::origin_allowed;
use super::{ApiError, AppState};

/// Refuses (403) a state-changing request that carries a cookie unless it names exactly one
/// allowed `Origin` and, if it has a body, sends JSON.
pub fn check(state: &AppState, method: &Method, headers: &HeaderMap) -> Result<(), ApiError> {
    let safe = matches!(*method, Method::GET | Method::HEAD | Method::OPTIONS);
    if safe || !headers.contains_key(header::COOKIE) {
        return Ok(());
    }
    // Exactly one Origin: with two, which one a browser or proxy meant is ambiguous.
    let mut origins = headers.get_all(header::ORIGIN).iter();
    let origin_ok = match (origins.next(), origins.next()) {
        (Some(origin), None) => origin.to_str().is_ok_and(|o| origin_allowed(state, o)),
        _ => false,
    };
    if !origin_ok {
        return Err(ApiError::forbidden(
            ErrorCode::CsrfOrigin,
            "request origin is not allowed",
        ));
    }
    if has_body(headers) && !is_json(headers) {
        return Err(ApiError::forbidden(
            ErrorCode::CsrfContentType,
            "state-changing requests must send application/json",
        ));
    }
    Ok(())
}

fn has_body(headers: &HeaderMap) -> bool {
    headers.contains_key(header::TRANSFER_ENCODING)
        || headers
            .get(header::CONTENT_LENGTH)
            .and_then(|v| v.to_str().ok())
            .is_some_and(|v| v.trim() != "0")
        || headers.contains_key(header::CONTENT_TYPE)
}

/// `application/json`, optionally with parameters such as `charset`, and nothing else: a second
/// `Content-Type` header makes the type ambiguous and is refused.
pub fn is_json(headers: &HeaderMap) -> bool {
    let mut types = headers.get_all(header::CONTENT_TYPE).iter();
    let (Some(only), None) = (types.next(), types.next()) else {
        return false;
    };
    only.to_str()
        .ok()
        .and_then(|v| v.split(';').next())
        .is_some_and(|mime| mime.trim().eq_ignore_ascii_case("application/json"))
}
