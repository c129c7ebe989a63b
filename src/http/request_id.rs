//! Request ids: every request gets one, every response carries it in `x-request-id`, and every
//! log line and error body of the request names it (`telemetry::request` keeps it current).
//!
//! The id is always Raptor's own: a client cannot choose the id its actions are recorded under
//! in the audit trail. An incoming `x-request-id` (Heroku's router sets one) is logged beside
//! ours as `client_request_id` when it looks like an id, so both can be correlated; anything
//! else is dropped, so a client cannot inject text into our logs.

use axum::http::{HeaderMap, HeaderName, HeaderValue};

pub use crate::telemetry::request::RequestId;

pub const HEADER: &str = "x-request-id";

/// [`HEADER`], parsed once (a lookup by name string parses it on every call).
pub static HEADER_NAME: HeaderName = HeaderName::from_static(HEADER);

/// The id of the request being handled on this task, if any.
pub fn current() -> Option<String> {
    crate::telemetry::request::current_id().map(|id| id.as_str().to_owned())
}

/// `id` as the value of an `x-request-id` header.
pub fn header_value(id: &RequestId) -> HeaderValue {
    HeaderValue::from_bytes(id.as_bytes()).expect("a hyphenated UUID is a valid header value")
}

/// The client's own request id, when it looks like one.
pub fn client_id(headers: &HeaderMap) -> Option<&HeaderValue> {
    headers
        .get(&HEADER_NAME)
        .filter(|v| v.to_str().is_ok_and(acceptable))
}

fn acceptable(id: &str) -> bool {
    (8..=128).contains(&id.len())
        && id
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_are_fresh_uuids_and_only_id_like_client_ids_are_kept() {
        let (a, b) = (RequestId::new(), RequestId::new());
        assert_ne!(a, b);
        assert!(uuid::Uuid::parse_str(a.as_str()).is_ok());
        assert_eq!(header_value(&a).to_str().unwrap(), a.as_str());
        let mut headers = HeaderMap::new();
        headers.insert(HEADER, HeaderValue::from_static("heroku-1234_abcd"));
        assert_eq!(client_id(&headers).unwrap(), "heroku-1234_abcd");
        headers.insert(HEADER, HeaderValue::from_static("short"));
        assert_eq!(client_id(&headers), None);
        headers.insert(HEADER, HeaderValue::from_static("has space injected"));
        assert_eq!(client_id(&headers), None);
    }
}
