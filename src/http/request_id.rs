//! Request ids: every request gets one, every response carries it in `x-request-id`, and every
//! log line and error body of the request names it.
//!
//! The id is always Raptor's own: a client cannot choose the id its actions are recorded under
//! in the audit trail. An incoming `x-request-id` (Heroku's router sets one) is logged beside
//! ours as `client_request_id` when it looks like an id, so both can be correlated; anything
//! else is dropped, so a client cannot inject text into our logs.

use std::time::Instant;

use axum::extract::Request;
use axum::http::HeaderValue;
use axum::middleware::Next;
use axum::response::Response;
use tracing::Instrument;

pub const HEADER: &str = "x-request-id";

tokio::task_local! {
    static REQUEST_ID: String;
}

/// The id of the request being handled on this task, if any.
pub fn current() -> Option<String> {
    REQUEST_ID.try_with(Clone::clone).ok()
}

fn acceptable(id: &str) -> bool {
    (8..=128).contains(&id.len())
        && id
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
}

pub async fn middleware(mut request: Request, next: Next) -> Response {
    let client_id = request
        .headers()
        .get(HEADER)
        .and_then(|v| v.to_str().ok())
        .filter(|v| acceptable(v))
        .map(str::to_owned);
    let id = uuid::Uuid::new_v4().to_string();
    let header = HeaderValue::from_str(&id).expect("request ids are ASCII");
    request.headers_mut().insert(HEADER, header.clone());

    let span = tracing::info_span!(
        "request",
        request_id = %id,
        client_request_id = client_id.as_deref(),
        method = %request.method(),
        path = %request.uri().path(),
        user_id = tracing::field::Empty,
    );
    let started = Instant::now();
    let mut response = REQUEST_ID
        .scope(id, next.run(request))
        .instrument(span.clone())
        .await;
    span.in_scope(|| {
        tracing::info!(
            status = response.status().as_u16(),
            latency_ms = started.elapsed().as_millis() as u64,
            "served"
        )
    });
    response.headers_mut().insert(HEADER, header);
    response
}
