//! The `session` cookie: `HttpOnly; Secure; SameSite=None; Path=/`, with `Domain` from
//! `SESSION_COOKIE_DOMAIN` when set (host-only otherwise).

use axum::http::{header, HeaderMap, HeaderValue};
use chrono::{DateTime, Utc};

use crate::settings::Settings;

pub const NAME: &str = "session";

/// The `session` cookie's value, if the request has one.
pub fn session_token(headers: &HeaderMap) -> Option<String> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(name, _)| *name == NAME)
        .map(|(_, value)| value.trim().to_owned())
        .filter(|v| !v.is_empty())
}

/// `Set-Cookie` for a new session that the browser keeps until `until` (the absolute cap).
pub fn issue(
    settings: &Settings,
    token: &str,
    until: DateTime<Utc>,
    now: DateTime<Utc>,
) -> HeaderValue {
    let max_age = (until - now).num_seconds().max(0);
    build(settings, token, max_age)
}

/// `Set-Cookie` that removes the session cookie.
pub fn clear(settings: &Settings) -> HeaderValue {
    build(settings, "", 0)
}

fn build(settings: &Settings, value: &str, max_age: i64) -> HeaderValue {
    let mut cookie =
        format!("{NAME}={value}; HttpOnly; Secure; SameSite=None; Path=/; Max-Age={max_age}");
    if let Some(domain) = &settings.session_cookie_domain {
        cookie.push_str("; Domain=");
        cookie.push_str(domain);
    }
    HeaderValue::from_str(&cookie).expect("cookie values are base64url and a configured domain")
}
