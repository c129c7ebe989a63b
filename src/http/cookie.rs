//! The `session` cookie: `HttpOnly; Secure; SameSite=None; Path=/`, with `Domain` from
//! `SESSION_COOKIE_DOMAIN` when set (host-only otherwise).

use axum::http::{header, HeaderMap, HeaderValue};
use chrono::{DateTime, Utc};

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

/// The cookie's attributes: `Domain` from `SESSION_COOKIE_DOMAIN` when set (host-only
/// otherwise).
#[derive(Debug, Clone, Default)]
pub struct SessionCookie {
    domain: Option<String>,
}

impl SessionCookie {
    /// The cookie for `domain` (`None`: host-only).
    pub fn new(domain: Option<String>) -> Self {
        Self { domain }
    }

    /// `Set-Cookie` for a new session that the browser keeps until `until` (the absolute cap).
    pub fn issue(&self, token: &str, until: DateTime<Utc>, now: DateTime<Utc>) -> HeaderValue {
        let max_age = (until - now).num_seconds().max(0);
        self.build(token, max_age)
    }

    /// `Set-Cookie` that removes the session cookie.
    pub fn clear(&self) -> HeaderValue {
        self.build("", 0)
    }

    fn build(&self, value: &str, max_age: i64) -> HeaderValue {
        let mut cookie =
            format!("{NAME}={value}; HttpOnly; Secure; SameSite=None; Path=/; Max-Age={max_age}");
        if let Some(domain) = &self.domain {
            cookie.push_str("; Domain=");
            cookie.push_str(domain);
        }
        HeaderValue::from_str(&cookie).expect("cookie values are base64url and a configured domain")
    }
}
