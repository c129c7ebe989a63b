//! The guard: who is calling and whether they may go on, as one service. In order: the client
//! IP (and the Cloudflare guard), the per-process rate limits (global, and the route's own from
//! `crate::limits::table`), the global limit across dynos
//! (from memory while this process holds a lease of the client's allowance), CSRF, then the
//! cross-dyno limits of the routes that send email, start ceremonies or place orders. A refused
//! request gets its 4xx here and never reaches a route.
//!
//! Only a request that needs a database round trip (a new lease of the global allowance, or a
//! route limit) is answered by a boxed future; every other request passes straight to the
//! route's own future, with its panics caught ([`Caught`]). A body declared larger than the limit is refused here (413);
//! one that grows past it while streaming is refused by the extractor that reads it (`ApiJson`).

use std::convert::Infallible;
use std::future::{ready, Ready};
use std::net::IpAddr;
use std::task::{Context, Poll};

use axum::extract::Request;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use futures_util::future::{BoxFuture, Either};
use tower::{Layer, Service};

use super::catch_panic::Caught;
use super::client_ip;
use super::{csrf, rate_limit, shared_limits, ApiError, AppState, BODY_LIMIT_BYTES};
use crate::limits::{table, SharedLimit};

/// Wraps a service in the [`Guard`].
#[derive(Clone)]
pub struct GuardLayer {
    pub state: AppState,
}

impl<S> Layer<S> for GuardLayer {
    type Service = Guard<S>;

    fn layer(&self, inner: S) -> Guard<S> {
        Guard {
            inner,
            state: self.state.clone(),
        }
    }
}

#[derive(Clone)]
pub struct Guard<S> {
    inner: S,
    state: AppState,
}

type Answer = Result<Response, Infallible>;

impl<S> Service<Request> for Guard<S>
where
    S: Service<Request, Response = Response, Error = Infallible> + Clone + Send + 'static,
    S::Future: Send + 'static,
{
    type Response = Response;
    type Error = Infallible;
    type Future = Either<Ready<Answer>, Either<Caught<S::Future>, BoxFuture<'static, Answer>>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Infallible>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, request: Request) -> Self::Future {
        let pending = match admit(&self.state, &request) {
            Ok(pending) => pending,
            Err(refusal) => return Either::Left(ready(Ok(refusal.into_response()))),
        };
        if !pending.global_lease && pending.route.is_none() {
            return Either::Right(Either::Left(Caught::call(|| self.inner.call(request))));
        }
        // The readied service goes with the request; a clone stays for the next one.
        let clone = self.inner.clone();
        let mut inner = std::mem::replace(&mut self.inner, clone);
        let state = self.state.clone();
        Either::Right(Either::Right(Box::pin(async move {
            match pending.admit(&state).await {
                Ok(()) => Caught::call(|| inner.call(request)).await,
                Err(refusal) => Ok(refusal.into_response()),
            }
        })))
    }
}

/// What is left to check with a database round trip.
struct Pending {
    ip: IpAddr,
    /// The client's global allowance must be leased first.
    global_lease: bool,
    /// The route's own cross-dyno limit, if any.
    route: Option<&'static SharedLimit>,
}

impl Pending {
    async fn admit(self, state: &AppState) -> Result<(), ApiError> {
        if self.global_lease {
            shared_limits::admit_global(state, self.ip).await?;
        }
        match self.route {
            Some(limit) => shared_limits::admit(state, limit, self.ip).await,
            None => Ok(()),
        }
    }
}

/// The checks that need no I/O: the client, the rate limits from memory, CSRF, the declared
/// body size; and what needs the database.
fn admit(state: &AppState, request: &Request) -> Result<Pending, ApiError> {
    let path = request.uri().path();
    let ip = client_ip::resolve(state, request.headers(), request.extensions(), path)?;
    let limits = table::for_route(request.method(), path);
    rate_limit::admit(state, path, limits, ip)?;
    let global_lease = shared_limits::check_global(state, path, ip)?;
    csrf::check(state, request.method(), request.headers())?;
    if declared_length(request).is_some_and(|n| n > BODY_LIMIT_BYTES as u64) {
        return Err(ApiError::from_status(StatusCode::PAYLOAD_TOO_LARGE));
    }
    Ok(Pending {
        ip,
        global_lease,
        route: limits.and_then(|l| l.cross_dyno),
    })
}

/// The body length a request declares, if it does: hyper reads it from `Content-Length` (and
/// refuses a malformed one) into the body's size hint, so no header is looked up again here.
fn declared_length(request: &Request) -> Option<u64> {
    axum::body::HttpBody::size_hint(request.body()).upper()
}
