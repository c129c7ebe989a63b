//! The request being handled: its id, method and path, the client's own id, the address its
//! connection came from (never logged) and, once known, the signed-in user. It is current (a
//! task-local) for as long as the request runs, so every line logged meanwhile carries these
//! fields and every error body names the id.
//!
//! JSON lines read the fields from here ([`with_current`]): a tracing span per request would cost
//! a slot in the span registry, its own rendering of the fields, and an enter and an exit for
//! every poll (callgrind: about a seventh of a `/health` request). The readable development
//! format shows them through a span ([`RequestLog::span`]), which tracing-subscriber's formatter
//! renders; production never creates one.

use std::fmt;
use std::future::Future;
use std::net::IpAddr;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, OnceLock};

use axum::http::{HeaderValue, Method, Uri};
use tokio::task::futures::TaskLocalFuture;
use tracing::Span;

/// A request's id: a random (v4) UUID in its hyphenated form, kept on the stack.
#[derive(Clone, Copy, PartialEq, Eq)]
pub struct RequestId([u8; uuid::fmt::Hyphenated::LENGTH]);

impl RequestId {
    pub fn new() -> Self {
        let mut id = [0u8; uuid::fmt::Hyphenated::LENGTH];
        uuid::Uuid::new_v4().hyphenated().encode_lower(&mut id);
        Self(id)
    }

    pub fn as_bytes(&self) -> &[u8] {
        &self.0
    }

    pub fn as_str(&self) -> &str {
        std::str::from_utf8(&self.0).expect("a hyphenated UUID is ASCII")
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

/// What the log lines of one request say about it.
pub struct RequestLog {
    pub id: RequestId,
    /// The client's own id (Heroku's router sets one), already checked to look like an id.
    pub client_id: Option<HeaderValue>,
    pub method: Method,
    /// The path is logged, never the query (it may hold what the client typed).
    pub uri: Uri,
    /// The peer address of the connection (the client, or the proxy in front of it).
    pub peer: Option<IpAddr>,
    user_id: OnceLock<uuid::Uuid>,
}

impl RequestLog {
    pub fn new(
        id: RequestId,
        client_id: Option<HeaderValue>,
        method: Method,
        uri: Uri,
        peer: Option<IpAddr>,
    ) -> Self {
        Self {
            id,
            client_id,
            method,
            uri,
            peer,
            user_id: OnceLock::new(),
        }
    }

    pub(super) fn client_id(&self) -> Option<&str> {
        self.client_id.as_ref().and_then(|v| v.to_str().ok())
    }

    /// The signed-in user, once [`record_user`] has named one.
    pub(super) fn user_id(&self) -> Option<uuid::Uuid> {
        self.user_id.get().copied()
    }

    /// The request's span when the readable format is on, else a disabled span (no cost).
    pub fn span(&self) -> Span {
        if !SPANS.load(Ordering::Relaxed) {
            return Span::none();
        }
        tracing::info_span!(
            "request",
            request_id = self.id.as_str(),
            client_request_id = self.client_id(),
            method = self.method.as_str(),
            path = self.uri.path(),
            user_id = tracing::field::Empty,
        )
    }
}

/// Whether requests get a span (the readable format); set once by `telemetry::init`.
static SPANS: AtomicBool = AtomicBool::new(false);

pub(super) fn use_spans(on: bool) {
    SPANS.store(on, Ordering::Relaxed);
}

tokio::task_local! {
    static CURRENT: Arc<RequestLog>;
}

/// Runs `f` with `request` current (the synchronous part of a request).
pub fn sync_scope<R>(request: Arc<RequestLog>, f: impl FnOnce() -> R) -> R {
    CURRENT.sync_scope(request, f)
}

/// `future` with `request` current whenever it runs.
pub fn scope<F: Future>(
    request: Arc<RequestLog>,
    future: F,
) -> TaskLocalFuture<Arc<RequestLog>, F> {
    CURRENT.scope(request, future)
}

/// The id of the request being handled on this task, if any.
pub fn current_id() -> Option<RequestId> {
    with_current(|request| request.id)
}

/// The peer address of the current request's connection, if the acceptor named one.
pub fn current_peer() -> Option<IpAddr> {
    with_current(|request| request.peer).flatten()
}

/// Records the signed-in user of the current request, for its later lines.
pub fn record_user(user_id: uuid::Uuid) {
    let _ = CURRENT.try_with(|request| request.user_id.set(user_id));
    Span::current().record("user_id", tracing::field::display(user_id));
}

/// `f` applied to the request being handled on this task, if any.
pub(super) fn with_current<R>(f: impl FnOnce(&RequestLog) -> R) -> Option<R> {
    CURRENT.try_with(|request| f(request)).ok()
}
