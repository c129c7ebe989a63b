//! Request ids: every request gets one, every response carries it in `x-request-id`, and every
//! log line and error body of the request names it.
//!
//! The id is always Raptor's own: a client cannot choose the id its actions are recorded under
//! in the audit trail. An incoming `x-request-id` (Heroku's router sets one) is logged beside
//! ours as `client_request_id` when it looks like an id, so both can be correlated; anything
//! else is dropped, so a client cannot inject text into our logs.

use std::fmt;
use std::future::Future;

use axum::http::{HeaderMap, HeaderValue};
use tokio::task::futures::TaskLocalFuture;

pub const HEADER: &str = "x-request-id";

/// A request's id: a random (v4) UUID in its hyphenated form, kept on the stack.
#[derive(Clone, Copy, PartialEq, Eq)]
pub struct RequestId([u8; uuid::fmt::Hyphenated::LENGTH]);

impl RequestId {
    pub fn new() -> Self {
        let mut id = [0u8; uuid::fmt::Hyphenated::LENGTH];
        uuid::Uuid::new_v4().hyphenated().encode_lower(&mut id);
        Self(id)
    }

    pub fn as_str(&self) -> &str {
        std::str::from_utf8(&self.0).expect("a hyphenated UUID is ASCII")
    }

    pub fn header_value(&self) -> HeaderValue {
        HeaderValue::from_bytes(&self.0).expect("a hyphenated UUID is a valid header value")
    }
}

impl Default for RequestId {
    fn default() -> Self {
        Self::new()
    }
}

impl fmt::Debug for RequestId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl fmt::Display for RequestId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

tokio::task_local! {
    static REQUEST_ID: RequestId;
}

/// The id of the request being handled on this task, if any.
pub fn current() -> Option<String> {
    REQUEST_ID.try_with(|id| id.as_str().to_owned()).ok()
}

/// Runs `f` with `id` as the current request id (the synchronous part of a request).
pub fn sync_scope<R>(id: RequestId, f: impl FnOnce() -> R) -> R {
    REQUEST_ID.sync_scope(id, f)
}

/// `future` with `id` as the current request id whenever it runs.
pub fn scope<F: Future>(id: RequestId, future: F) -> TaskLocalFuture<RequestId, F> {
    REQUEST_ID.scope(id, future)
}

/// The client's own request id, when it looks like one.
pub fn client_id(headers: &HeaderMap) -> Option<&str> {
    headers
        .get(HEADER)
        .and_then(|v| v.to_str().ok())
        .filter(|v| acceptable(v))
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
        assert_eq!(a.header_value().to_str().unwrap(), a.as_str());
        let mut headers = HeaderMap::new();
        headers.insert(HEADER, HeaderValue::from_static("heroku-1234_abcd"));
        assert_eq!(client_id(&headers), Some("heroku-1234_abcd"));
        headers.insert(HEADER, HeaderValue::from_static("short"));
        assert_eq!(client_id(&headers), None);
        headers.insert(HEADER, HeaderValue::from_static("has space injected"));
        assert_eq!(client_id(&headers), None);
    }
}
