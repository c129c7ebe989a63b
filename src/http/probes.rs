//! The probes, answered in front of the router: `GET /health` and `GET /api/system/health`
//! (liveness) and `GET /api/system/status` (readiness). They are the most frequent requests a
//! process gets (the platform, load balancers, uptime monitors) and read nothing from the
//! request, so they skip the router's per-call work: a match against every route, a boxed clone
//! of the matched route, two request extensions, a boxed handler future (ADR 0007).
//!
//! They have passed the whole stack above (the edge and the guard: request id, access log,
//! CORS, security headers, client IP, the rate limit where it applies, CSRF). The routes stay
//! registered with the router as well, which answers their `HEAD` and other methods, and from
//! which the OpenAPI document names them; both answer with the same functions
//! ([`system::liveness`], [`system::readiness`]).

use std::convert::Infallible;
use std::future::{ready, Ready};
use std::pin::Pin;
use std::task::{Context, Poll};

use axum::extract::Request;
use axum::http::Method;
use axum::response::Response;
use futures_util::future::Either;
use tower::{Layer, Service};

use super::{is_health_path, system, AppState};

/// Wraps a service (the router) in [`Probes`].
#[derive(Clone)]
pub struct ProbesLayer {
    pub state: AppState,
}

impl<S> Layer<S> for ProbesLayer {
    type Service = Probes<S>;

    fn layer(&self, inner: S) -> Probes<S> {
        Probes {
            inner,
            state: self.state.clone(),
        }
    }
}

#[derive(Clone)]
pub struct Probes<S> {
    inner: S,
    state: AppState,
}

type Answer = Result<Response, Infallible>;

impl<S> Service<Request> for Probes<S>
where
    S: Service<Request, Response = Response, Error = Infallible>,
{
    type Response = Response;
    type Error = Infallible;
    // The router's future is boxed: it holds the request until the route is ready, and moving
    // it up through the stack's futures by value cost more than an allocation (ADR 0007).
    type Future = Either<Ready<Answer>, Pin<Box<S::Future>>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Infallible>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, request: Request) -> Self::Future {
        match answer(&self.state, &request) {
            Some(response) => Either::Left(ready(Ok(response))),
            None => Either::Right(Box::pin(self.inner.call(request))),
        }
    }
}

/// The probe's answer, if `request` is a probe.
fn answer(state: &AppState, request: &Request) -> Option<Response> {
    if request.method() != Method::GET {
        return None;
    }
    match request.uri().path() {
        path if is_health_path(path) => Some(system::liveness()),
        "/api/system/status" => Some(system::readiness(state)),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use axum::body::Body;
    use axum::http::{header, StatusCode};
    use tower::ServiceExt;

    use super::*;
    use crate::http::test_support;

    async fn parts(
        service: impl Service<Request, Response = Response, Error = Infallible>,
        method: Method,
        uri: &str,
    ) -> (StatusCode, Vec<(String, String)>, Vec<u8>) {
        let request = Request::builder()
            .method(method)
            .uri(uri)
            .body(Body::empty())
            .unwrap();
        let response = service.oneshot(request).await.unwrap();
        let mut headers: Vec<_> = response
            .headers()
            .iter()
            .filter(|(name, _)| *name != header::CONTENT_LENGTH)
            .map(|(name, value)| (name.to_string(), value.to_str().unwrap().to_owned()))
            .collect();
        headers.sort();
        let status = response.status();
        let body = axum::body::to_bytes(response.into_body(), 1024)
            .await
            .unwrap();
        (status, headers, body.to_vec())
    }

    #[tokio::test]
    async fn a_probe_is_answered_as_the_router_answers_it() {
        // No actor runs in the test state: readiness is `degraded`, liveness `ok`.
        let state = test_support::state(&[]);
        let router = crate::http::router(state.clone());
        let probes = ProbesLayer {
            state: state.clone(),
        }
        .layer(router.clone());
        for (uri, status) in [
            ("/health", StatusCode::OK),
            ("/api/system/health", StatusCode::OK),
            ("/api/system/health?verbose=1", StatusCode::OK),
            ("/api/system/status", StatusCode::SERVICE_UNAVAILABLE),
        ] {
            let fast = parts(probes.clone(), Method::GET, uri).await;
            assert_eq!(fast.0, status, "{uri}");
            assert_eq!(fast, parts(router.clone(), Method::GET, uri).await, "{uri}");
        }
    }

    #[test]
    fn only_a_get_of_a_probe_path_is_a_probe() {
        let state = test_support::state(&[]);
        let probe = |method: Method, uri: &str| {
            let request = Request::builder()
                .method(method)
                .uri(uri)
                .body(Body::empty())
                .unwrap();
            answer(&state, &request).is_some()
        };
        assert!(probe(Method::GET, "/health"));
        assert!(probe(Method::GET, "/api/system/status"));
        for (method, uri) in [
            (Method::HEAD, "/health"),
            (Method::POST, "/health"),
            (Method::GET, "/health/"),
            (Method::GET, "/healthz"),
            (Method::GET, "/api/system/diagnostic"),
            (Method::GET, "/api/system"),
        ] {
            assert!(!probe(method.clone(), uri), "{method} {uri}");
        }
    }
}
