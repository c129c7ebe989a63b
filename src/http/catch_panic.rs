//! A route that panics answers 500 with no detail (the panic itself is in the log), and the
//! process goes on. [`Caught`] is the route's future with its panics turned into that answer;
//! the guard wraps every route in it, so the 500 still passes CORS and the edge.

use std::any::Any;
use std::convert::Infallible;
use std::future::Future;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::pin::Pin;
use std::task::{Context, Poll};

use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};

use super::ApiError;

pin_project_lite::pin_project! {
    /// `inner`, answering 500 if it panics; `None` when the call itself panicked.
    pub struct Caught<F> {
        #[pin]
        inner: Option<F>,
    }
}

impl<F> Caught<F> {
    /// Calls `call` (a service's `call`), catching a panic in it too.
    pub fn call(call: impl FnOnce() -> F) -> Self {
        let inner = catch_unwind(AssertUnwindSafe(call)).map_err(log).ok();
        Caught { inner }
    }
}

impl<F> Future for Caught<F>
where
    F: Future<Output = Result<Response, Infallible>>,
{
    type Output = Result<Response, Infallible>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let mut this = self.project();
        let Some(inner) = this.inner.as_mut().as_pin_mut() else {
            return Poll::Ready(Ok(internal_error()));
        };
        match catch_unwind(AssertUnwindSafe(|| inner.poll(cx))) {
            Ok(poll) => poll,
            Err(panic) => {
                log(panic);
                this.inner.set(None);
                Poll::Ready(Ok(internal_error()))
            }
        }
    }
}

fn log(_: Box<dyn Any + Send + 'static>) {
    tracing::error!("handler panicked");
}

/// 500 in the SPEC's shape, naming the request id and nothing else.
fn internal_error() -> Response {
    let mut response = ApiError::from_status(StatusCode::INTERNAL_SERVER_ERROR).into_response();
    response.headers_mut().remove(header::CONTENT_LENGTH);
    response
}
