//! The edge: what every request passes first and every response last, as one service with a
//! future of its own (no boxing, no per-request clones): a request id, the request's span and
//! its access-log line, CORS (a preflight is answered here), the SPEC's error shape for bare
//! error responses, the security headers.
//!
//! The request (its id, method, path) is current (`telemetry::request`) from the moment it
//! enters the stack until its access-log line is written, so an error body built by any layer
//! below names its id and every line logged meanwhile carries its fields.

use std::convert::Infallible;
use std::future::{ready, Future, Ready};
use std::net::{IpAddr, SocketAddr};
use std::pin::Pin;
use std::sync::Arc;
use std::task::{ready, Context, Poll};
use std::time::Instant;

use axum::extract::Request;
use axum::http::Method;
use axum::response::Response;
use futures_util::future::Either;
use tokio::task::futures::TaskLocalFuture;
use tower::{Layer, Service};
use tracing::instrument::{Instrument, Instrumented};

use super::cors::{AllowedOrigin, Cors};
use super::request_id;
use super::{json, security};
use crate::telemetry::request::{self as telemetry, RequestId, RequestLog};

/// Wraps a service in the [`Edge`].
#[derive(Clone)]
pub struct EdgeLayer {
    /// Production-like: responses carry HSTS.
    pub deployed: bool,
    pub cors: Arc<Cors>,
}

impl<S> Layer<S> for EdgeLayer {
    type Service = Edge<S>;

    fn layer(&self, inner: S) -> Edge<S> {
        Edge {
            inner,
            deployed: self.deployed,
            cors: Arc::clone(&self.cors),
            peer: None,
        }
    }
}

#[derive(Clone)]
pub struct Edge<S> {
    inner: S,
    deployed: bool,
    cors: Arc<Cors>,
    /// The peer of the connection this copy serves (the acceptor makes one per connection).
    peer: Option<IpAddr>,
}

impl<S: Clone> Edge<S> {
    /// This stack for a connection from `peer`: its requests name it (`telemetry::request`),
    /// and the guard resolves the client from it when no trusted proxy names one.
    pub fn for_peer(&self, peer: SocketAddr) -> Self {
        Self {
            peer: Some(peer.ip()),
            ..self.clone()
        }
    }
}

type Answer = Result<Response, Infallible>;

/// The most headers the edge adds to a response (see [`security::HEADERS_ADDED`]).
pub use super::security::HEADERS_ADDED;

impl<S> Service<Request> for Edge<S>
where
    S: Service<Request, Response = Response, Error = Infallible>,
{
    type Response = Response;
    type Error = Infallible;
    type Future = EdgeFuture<Either<Ready<Answer>, S::Future>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Infallible>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, request: Request) -> Self::Future {
        let log = Arc::new(RequestLog::new(
            RequestId::new(),
            request_id::client_id(request.headers()).cloned(),
            request.method().clone(),
            request.uri().clone(),
            self.peer,
        ));
        let span = log.span();
        let api = request.uri().path().starts_with("/api/");
        let origin = self.cors.allowed(request.headers());
        let preflight = request.method() == Method::OPTIONS;
        let (inner, origin) = if preflight {
            (Either::Left(ready(Ok(Cors::preflight(origin)))), None)
        } else {
            let _entered = span.enter();
            let inner = telemetry::sync_scope(Arc::clone(&log), || self.inner.call(request));
            (Either::Right(inner), origin)
        };
        EdgeFuture {
            inner: telemetry::scope(Arc::clone(&log), inner).instrument(span),
            log,
            api,
            deployed: self.deployed,
            origin,
            preflight,
            started: Instant::now(),
        }
    }
}

pin_project_lite::pin_project! {
    /// The response of an [`Edge`]: the inner response, finished on its way out.
    pub struct EdgeFuture<F> {
        #[pin]
        inner: Instrumented<TaskLocalFuture<Arc<RequestLog>, F>>,
        log: Arc<RequestLog>,
        api: bool,
        deployed: bool,
        origin: Option<AllowedOrigin>,
        // Answered here, with the preflight's own CORS headers.
        preflight: bool,
        started: Instant,
    }
}

impl<F> Future for EdgeFuture<F>
where
    F: Future<Output = Result<Response, Infallible>>,
{
    type Output = Result<Response, Infallible>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let mut this = self.project();
        let Ok(response) = ready!(this.inner.as_mut().poll(cx));
        let _entered = this.inner.span().enter();
        let log = Arc::clone(this.log);
        let response = telemetry::sync_scope(log, || {
            let mut response = json::normalize_errors(response);
            let headers = response.headers_mut();
            // Room for the headers added here at once, not one growth after another.
            headers.reserve(HEADERS_ADDED);
            if !*this.preflight {
                Cors::decorate(headers, this.origin.take());
            }
            security::harden(headers, *this.api, *this.deployed);
            headers.insert(
                request_id::HEADER_NAME.clone(),
                request_id::header_value(&this.log.id),
            );
            let status = response.status().as_u16();
            let latency_ms = this.started.elapsed().as_millis() as u64;
            crate::telemetry::served(status, latency_ms);
            response
        });
        Poll::Ready(Ok(response))
    }
}
