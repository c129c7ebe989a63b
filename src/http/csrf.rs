//! CSRF defence for a `SameSite=None` session cookie.
//!
//! A state-changing request (anything but GET, HEAD, OPTIONS) that carries a cookie must name
//! exactly one allowed `Origin`, and if it has a body, the body must be JSON. Browsers cannot send a
//! cross-site JSON request without a CORS preflight, which the allowlist refuses, and every
//! HTML form carries a non-JSON body, so a forged request is stopped here with 403.

use crate::http::error::ErrorCode;
use axum::http::{header, HeaderMap, Method};

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
        (Some(origin), None) => origin.to_str().is_ok_and(|o| state.cors.allows(o)),
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

/// Every rule of the middleware, one request at a time (and what cargo-mutants checks).
#[cfg(test)]
mod mutation_tests {
    use axum::body::Body;
    use axum::http::{Request, StatusCode};
    use axum::routing::any;
    use axum::Router;

    use super::*;
    use crate::http::test_support::{error_code, send, state, ORIGIN};

    fn router() -> Router {
        let state = state(&[]);
        Router::new()
            .route("/", any(|| async { StatusCode::NO_CONTENT }))
            .layer(crate::http::guard::GuardLayer { state })
    }

    /// A request to `/` with these headers and an empty body.
    fn request(method: Method, headers: &[(&str, &str)]) -> Request<Body> {
        let mut builder = Request::builder().method(method).uri("/");
        for (name, value) in headers {
            builder = builder.header(*name, *value);
        }
        builder.body(Body::empty()).unwrap()
    }

    async fn outcome(method: Method, headers: &[(&str, &str)]) -> (u16, String) {
        error_code(send(&router(), request(method, headers)).await).await
    }

    const PASSED: (u16, &str) = (204, "");

    fn passed(outcome: (u16, String)) -> bool {
        (outcome.0, outcome.1.as_str()) == PASSED
    }

    #[tokio::test]
    async fn safe_methods_pass_with_a_cookie_and_no_origin() {
        for method in [Method::GET, Method::HEAD, Method::OPTIONS] {
            assert!(
                passed(outcome(method.clone(), &[("cookie", "session=x")]).await),
                "{method}"
            );
        }
    }

    #[tokio::test]
    async fn writes_without_a_cookie_are_not_csrf_candidates() {
        let out = outcome(
            Method::POST,
            &[
                ("origin", "https://evil.example"),
                ("content-type", "text/plain"),
            ],
        )
        .await;
        assert!(passed(out));
    }

    #[tokio::test]
    async fn a_cookie_bearing_write_needs_exactly_one_allowed_origin() {
        for method in [Method::POST, Method::PUT, Method::PATCH, Method::DELETE] {
            let none = outcome(method.clone(), &[("cookie", "session=x")]).await;
            assert_eq!(none, (403, "csrf_origin".to_owned()), "{method}");
            let evil = outcome(
                method.clone(),
                &[("cookie", "session=x"), ("origin", "https://evil.example")],
            )
            .await;
            assert_eq!(evil, (403, "csrf_origin".to_owned()), "{method}");
            let good = outcome(
                method.clone(),
                &[("cookie", "session=x"), ("origin", ORIGIN)],
            )
            .await;
            assert!(passed(good), "{method}");
        }
        let twice = outcome(
            Method::POST,
            &[
                ("cookie", "session=x"),
                ("origin", ORIGIN),
                ("origin", ORIGIN),
            ],
        )
        .await;
        assert_eq!(twice, (403, "csrf_origin".to_owned()));
    }

    #[tokio::test]
    async fn a_body_must_be_json_however_it_is_framed() {
        let base = [("cookie", "session=x"), ("origin", ORIGIN)];
        let with = |extra: &'static [(&'static str, &'static str)]| {
            let mut all = base.to_vec();
            all.extend_from_slice(extra);
            all
        };
        let refused = (403, "csrf_content_type".to_owned());
        assert_eq!(
            outcome(Method::POST, &with(&[("content-length", "2")])).await,
            refused
        );
        assert_eq!(
            outcome(Method::POST, &with(&[("transfer-encoding", "chunked")])).await,
            refused
        );
        assert_eq!(
            outcome(Method::POST, &with(&[("content-type", "text/plain")])).await,
            refused
        );
        assert_eq!(
            outcome(
                Method::POST,
                &with(&[("content-length", "2"), ("content-type", "text/plain")])
            )
            .await,
            refused
        );
        assert!(passed(
            outcome(Method::POST, &with(&[("content-length", "0")])).await
        ));
        assert!(passed(
            outcome(Method::POST, &with(&[("content-length", " 0 ")])).await
        ));
        assert!(passed(
            outcome(
                Method::POST,
                &with(&[
                    ("content-length", "2"),
                    ("content-type", "application/json")
                ])
            )
            .await
        ));
        assert!(passed(
            outcome(
                Method::POST,
                &with(&[("content-type", "Application/JSON; charset=utf-8")])
            )
            .await
        ));
    }

    #[test]
    fn a_body_is_announced_by_length_chunks_or_a_type() {
        let headers = |pairs: &[(&'static str, &'static str)]| {
            let mut map = HeaderMap::new();
            for (k, v) in pairs {
                map.append(*k, v.parse().unwrap());
            }
            map
        };
        assert!(!has_body(&headers(&[])));
        assert!(!has_body(&headers(&[("content-length", "0")])));
        assert!(has_body(&headers(&[("content-length", "1")])));
        assert!(has_body(&headers(&[("transfer-encoding", "chunked")])));
        assert!(has_body(&headers(&[("content-type", "application/json")])));
        assert!(is_json(&headers(&[("content-type", "application/json")])));
        assert!(!is_json(&headers(&[])));
        assert!(!is_json(&headers(&[("content-type", "application/jsonp")])));
        assert!(!is_json(&headers(&[
            ("content-type", "application/json"),
            ("content-type", "application/json"),
        ])));
    }
}
