//! Response hardening, applied to every response (CORS is [`super::cors`]).
//!
//! The API serves JSON only, so the content security policy forbids everything, except on a
//! response whose handler set its own (the development-only page, `dev_page`).

use axum::http::{header, HeaderMap, HeaderValue};

/// The most headers the edge adds to a response: four of CORS, six of hardening, the id (kept
/// here, a leaf, so the JSON responses that make room for them need not import the edge).
pub const HEADERS_ADDED: usize = 11;

const CSP: &str = "default-src 'none'; frame-ancestors 'none'";
const HSTS: &str = "max-age=63072000; includeSubDomains";

/// Adds the security headers to a response; `api` for a path under `/api/`, `deployed` in
/// production-like environments (HSTS).
pub fn harden(h: &mut HeaderMap, api: bool, deployed: bool) {
    // A handler that serves a page sets its own policy (the development page); keep it.
    h.entry(header::CONTENT_SECURITY_POLICY)
        .or_insert_with(|| HeaderValue::from_static(CSP));
    h.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    h.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    h.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("no-referrer"),
    );
    if deployed {
        h.insert(
            header::STRICT_TRANSPORT_SECURITY,
            HeaderValue::from_static(HSTS),
        );
    }
    if api {
        h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    }
}
