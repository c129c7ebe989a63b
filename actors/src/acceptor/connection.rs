//! One client connection: served with hyper-util's auto builder (HTTP/1 and HTTP/2) under the
//! process's [`ConnectionLimits`], closed when idle too long or when a request's head takes
//! too long to arrive, and finished gracefully when the acceptor drains.
//!
//! The HTTP service is type-erased once per connection ([`HttpService`]), never per request: a
//! request costs one clone of the service (reference counts) and no boxed future.
//!
//! The header-read deadline is kept here, by the connection's own periodic check, rather than by
//! hyper's per-request timer (which registers and cancels a timer for every request on a
//! keep-alive connection): reading bytes while no request is in flight starts a request head,
//! handing the request to the service ends it.

use std::convert::Infallible;
use std::future::Future;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::Arc;
use std::task::{ready, Context, Poll};
use std::time::Duration;

use axum::body::Body;
use axum::extract::{ConnectInfo, Request};
use axum::response::Response;
use futures_util::future::BoxFuture;
use hyper::body::Incoming;
use hyper_util::rt::{TokioExecutor, TokioIo, TokioTimer};
use hyper_util::server::conn::auto;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::TcpStream;
use tokio::sync::{watch, OwnedSemaphorePermit};
use tokio::time::Instant;
use tower::util::Oneshot;
use tower::ServiceExt;

use super::ConnectionLimits;

/// The connection builder every accepted connection shares.
pub fn builder(limits: &ConnectionLimits) -> auto::Builder<TokioExecutor> {
    let mut builder = auto::Builder::new(TokioExecutor::new());
    builder
        .http1()
        .max_buf_size(limits.max_header_bytes.max(8192) as usize);
    builder
        .http2()
        .timer(TokioTimer::new())
        .max_concurrent_streams(limits.h2_max_concurrent_streams)
        .max_header_list_size(limits.max_header_bytes)
        .keep_alive_interval(Some(Duration::from_secs(30)))
        .keep_alive_timeout(Duration::from_secs(20));
    builder
}

/// An accepted connection and what serving it needs.
pub struct Accepted {
    pub builder: auto::Builder<TokioExecutor>,
    pub stream: TcpStream,
    pub peer: SocketAddr,
    pub limits: ConnectionLimits,
    pub draining: watch::Receiver<bool>,
    /// This connection's place under the connection cap, freed when it ends.
    pub slot: OwnedSemaphorePermit,
}

type ServeFn = dyn Fn(Accepted) -> BoxFuture<'static, ()> + Send + Sync;

/// The HTTP service the acceptor serves on every connection (the application's whole stack).
#[derive(Clone)]
pub struct HttpService(Arc<ServeFn>);

impl HttpService {
    /// `service` must always be ready (as axum's router and the layers above it are): each
    /// request calls a fresh clone of it.
    pub fn new<S>(service: S) -> Self
    where
        S: tower::Service<Request, Response = Response, Error = Infallible>
            + Clone
            + Send
            + Sync
            + 'static,
        S::Future: Send + 'static,
    {
        Self(Arc::new(move |accepted| {
            Box::pin(serve(service.clone(), accepted))
        }))
    }

    pub(super) fn serve(&self, accepted: Accepted) -> BoxFuture<'static, ()> {
        (self.0)(accepted)
    }
}

/// When a connection last finished a request, how many are in flight, and since when the head
/// of the next one has been arriving.
struct Activity {
    opened: Instant,
    in_flight: AtomicUsize,
    /// Milliseconds since `opened`.
    last_done_ms: AtomicU64,
    /// Milliseconds since `opened`, plus one, of the first byte read while no request was in
    /// flight; 0 when no request head is arriving.
    head_since_ms: AtomicU64,
}

impl Activity {
    fn new() -> Self {
        Self {
            opened: Instant::now(),
            in_flight: AtomicUsize::new(0),
            last_done_ms: AtomicU64::new(0),
            head_since_ms: AtomicU64::new(0),
        }
    }

    fn now_ms(&self) -> u64 {
        self.opened.elapsed().as_millis() as u64
    }

    fn idle_for(&self, timeout: Duration) -> bool {
        if self.in_flight.load(Ordering::Acquire) != 0 {
            return false;
        }
        let last = self.last_done_ms.load(Ordering::Acquire);
        self.now_ms().saturating_sub(last) >= timeout.as_millis() as u64
    }

    /// Bytes arrived from the client.
    fn read_some(&self) {
        if self.in_flight.load(Ordering::Acquire) == 0
            && self.head_since_ms.load(Ordering::Relaxed) == 0
        {
            self.head_since_ms.store(self.now_ms() + 1, Ordering::Relaxed);
        }
    }

    /// Whether a request head has been arriving for longer than `timeout`.
    fn head_late(&self, timeout: Duration) -> bool {
        match self.head_since_ms.load(Ordering::Relaxed) {
            0 => false,
            since => self.now_ms().saturating_sub(since - 1) >= timeout.as_millis() as u64,
        }
    }
}

/// Serves `accepted` until the client closes it, it idles past the idle timeout, or the
/// acceptor drains.
async fn serve<S>(service: S, accepted: Accepted)
where
    S: tower::Service<Request, Response = Response, Error = Infallible> + Clone + Send + 'static,
    S::Future: Send + 'static,
{
    let Accepted {
        builder,
        stream,
        peer,
        limits,
        mut draining,
        slot: _slot,
    } = accepted;
    // hyper's header-read timeout starts once the protocol is known, and the auto builder
    // learns it from the first bytes: a client that sends nothing at all is dropped here.
    let mut first = [0u8; 1];
    match tokio::time::timeout(limits.header_read_timeout, stream.peek(&mut first)).await {
        Ok(Ok(n)) if n > 0 => {}
        _ => return,
    }
    let idle_timeout = limits.idle_timeout;
    let activity = Arc::new(Activity::new());
    let tracked = Tracked {
        service,
        peer,
        activity: Arc::clone(&activity),
    };
    let stream = Watched {
        inner: stream,
        activity: Arc::clone(&activity),
    };
    let connection = builder.serve_connection(TokioIo::new(stream), tracked);
    tokio::pin!(connection);
    let mut closing = false;
    // Checked twice per shortest deadline: a late head is dropped within 1.5 times its bound.
    let mut check = tokio::time::interval(
        (idle_timeout.min(limits.header_read_timeout) / 2)
            .min(Duration::from_secs(5))
            .max(Duration::from_millis(100)),
    );
    loop {
        tokio::select! {
            result = connection.as_mut() => {
                if let Err(error) = result {
                    tracing::debug!(%error, "connection ended with an error");
                }
                return;
            }
            _ = check.tick() => {
                if activity.head_late(limits.header_read_timeout) {
                    tracing::debug!("dropping a connection whose request head is late");
                    return;
                }
                if !closing && activity.idle_for(idle_timeout) {
                    tracing::debug!("closing an idle connection");
                    connection.as_mut().graceful_shutdown();
                    closing = true;
                }
            }
            _ = draining.changed(), if !closing => {
                connection.as_mut().graceful_shutdown();
                closing = true;
            }
        }
    }
}

/// The client's stream, noting when bytes arrive between requests (a request head starting).
struct Watched {
    inner: TcpStream,
    activity: Arc<Activity>,
}

impl AsyncRead for Watched {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<std::io::Result<()>> {
        let before = buf.filled().len();
        let read = Pin::new(&mut self.inner).poll_read(cx, buf);
        if buf.filled().len() > before {
            self.activity.read_some();
        }
        read
    }
}

impl AsyncWrite for Watched {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bytes: &[u8],
    ) -> Poll<std::io::Result<usize>> {
        Pin::new(&mut self.inner).poll_write(cx, bytes)
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[std::io::IoSlice<'_>],
    ) -> Poll<std::io::Result<usize>> {
        Pin::new(&mut self.inner).poll_write_vectored(cx, bufs)
    }

    fn is_write_vectored(&self) -> bool {
        self.inner.is_write_vectored()
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.inner).poll_flush(cx)
    }

    fn poll_shutdown(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.inner).poll_shutdown(cx)
    }
}

/// One request in flight; its drop marks the end of the request.
struct InFlight(Arc<Activity>);

impl InFlight {
    fn begin(activity: &Arc<Activity>) -> Self {
        activity.in_flight.fetch_add(1, Ordering::AcqRel);
        Self(Arc::clone(activity))
    }
}

impl Drop for InFlight {
    fn drop(&mut self) {
        let done = self.0.opened.elapsed().as_millis() as u64;
        self.0.last_done_ms.fetch_max(done, Ordering::AcqRel);
        self.0.in_flight.fetch_sub(1, Ordering::AcqRel);
    }
}

/// The service with the connection's peer address attached to every request, counting the
/// requests in flight for the idle timeout.
struct Tracked<S> {
    service: S,
    peer: SocketAddr,
    activity: Arc<Activity>,
}

impl<S> hyper::service::Service<hyper::Request<Incoming>> for Tracked<S>
where
    S: tower::Service<Request, Response = Response, Error = Infallible> + Clone,
{
    type Response = Response;
    type Error = Infallible;
    type Future = TrackedFuture<S, Request>;

    fn call(&self, mut request: hyper::Request<Incoming>) -> Self::Future {
        // The head is in: whatever is read from now on is this request's body or the next head.
        self.activity.head_since_ms.store(0, Ordering::Relaxed);
        request.extensions_mut().insert(ConnectInfo(self.peer));
        TrackedFuture {
            inner: self.service.clone().oneshot(request.map(Body::new)),
            in_flight: Some(InFlight::begin(&self.activity)),
        }
    }
}

pin_project_lite::pin_project! {
    /// A request's response, with the request counted in flight until it is sent.
    struct TrackedFuture<S, R> where S: tower::Service<R> {
        #[pin]
        inner: Oneshot<S, R>,
        in_flight: Option<InFlight>,
    }
}

impl<S> Future for TrackedFuture<S, Request>
where
    S: tower::Service<Request, Response = Response, Error = Infallible>,
{
    type Output = Result<Response, Infallible>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let this = self.project();
        let Ok(response) = ready!(this.inner.poll(cx));
        // A body of known length is written at once: its request ends with the response. A
        // streamed body (SSE) keeps the request in flight until it is sent in full or dropped,
        // so a long stream is never taken for an idle connection.
        let in_flight = this.in_flight.take();
        if axum::body::HttpBody::size_hint(response.body())
            .exact()
            .is_some()
        {
            return Poll::Ready(Ok(response));
        }
        Poll::Ready(Ok(response.map(|body| {
            Body::new(http_body_util::BodyExt::map_frame(body, move |frame| {
                let _ = &in_flight;
                frame
            }))
        })))
    }
}
