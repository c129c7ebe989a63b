//! One client connection: served with hyper-util's auto builder (HTTP/1 and HTTP/2) under the
//! process's [`ConnectionLimits`], closed when idle too long or when a request's head takes
//! too long to arrive, and finished gracefully when the acceptor drains.
//!
//! The HTTP service is type-erased once per connection ([`HttpService`]), never per request:
//! each connection calls its own copy of the service in place, so a request costs no clone of
//! it and no boxed future.
//!
//! A connection whose first request opens an order stream, or whose next request does between
//! two HTTP/1 requests, is handed to [`event_stream`] and served without hyper (ADR 0009).
//!
//! The header-read deadline is kept here, by the connection's own periodic check, rather than by
//! hyper's per-request timer (which registers and cancels a timer for every request on a
//! keep-alive connection): reading bytes while no request is in flight starts a request head,
//! handing the request to the service ends it.

use std::cell::RefCell;
use std::convert::Infallible;
use std::future::Future;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::Arc;
use std::task::{ready, Context, Poll, Waker};
use std::time::Duration;

use axum::body::Body;
use axum::extract::Request;
use axum::response::Response;
use futures_util::future::{BoxFuture, Either, FutureExt};
use futures_util::task::AtomicWaker;
use hyper::body::Incoming;
use hyper_util::rt::{TokioExecutor, TokioIo, TokioTimer};
use hyper_util::server::conn::auto;
use hyper_util::server::graceful::GracefulConnection;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::TcpStream;
use tokio::sync::{watch, OwnedSemaphorePermit};
use tokio::time::Instant;
use tower::util::Oneshot;
use tower::ServiceExt;

use super::{event_stream, ConnectionLimits};

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

type ServeFn = dyn Fn(Accepted, &'static [&'static str]) -> BoxFuture<'static, ()> + Send + Sync;

/// The HTTP service the acceptor serves on every connection (the application's whole stack).
#[derive(Clone)]
pub struct HttpService {
    serve: Arc<ServeFn>,
    stream_paths: &'static [&'static str],
}

impl HttpService {
    /// Each connection gets the service `for_peer` makes for the address it came from, and
    /// calls it in place, request after request; it should always be ready (as axum's router and
    /// the layers above it are), or each request waits for readiness on a clone of its own.
    ///
    /// The service knows its connection's peer from the start, so no request carries it (an
    /// extension per request costs three allocations and a hash map).
    pub fn new<S>(for_peer: impl Fn(SocketAddr) -> S + Send + Sync + 'static) -> Self
    where
        S: tower::Service<Request, Response = Response, Error = Infallible>
            + Clone
            + Send
            + 'static,
        S::Future: Send + 'static,
    {
        Self {
            serve: Arc::new(move |accepted, stream_paths| {
                let service = for_peer(accepted.peer);
                Box::pin(serve(service, accepted, stream_paths))
            }),
            stream_paths: &[],
        }
    }

    /// Paths whose `GET` opens a long-lived stream: a connection whose first request is one,
    /// or whose next request is one between two HTTP/1 requests, is served without hyper,
    /// holding far less memory while it streams (see `event_stream`).
    pub fn streams_at(mut self, paths: &'static [&'static str]) -> Self {
        self.stream_paths = paths;
        self
    }

    pub(super) fn serve(&self, accepted: Accepted) -> BoxFuture<'static, ()> {
        (self.serve)(accepted, self.stream_paths)
    }
}

/// What a connection's requests are doing, kept with counters and flags only (no clock read on
/// the request path): the connection's periodic check turns them into durations.
#[derive(Default)]
struct Activity {
    in_flight: AtomicUsize,
    /// Requests handed to the service so far.
    begun: AtomicU64,
    /// Requests answered (their responses sent or dropped) so far.
    finished: AtomicU64,
    /// Bytes arrived while no request was in flight: the head of the next request is arriving.
    head_pending: AtomicBool,
    /// The last request came over HTTP/1 with no body: once it is answered, the next bytes read
    /// (if none of them were read yet) start the next head, by HTTP/1's own framing. After a
    /// request with a body they may be the rest of that body, which hyper drains when the
    /// service did not read it all; over HTTP/2 they are frames.
    may_hand_over: AtomicBool,
    /// The next request opens a stream: hyper is to close, and hand the connection over.
    handover_pending: AtomicBool,
    /// What hyper's parts leave for a handover as hyper drops them (boxed: most connections
    /// never hand over, and each keeps this for its life).
    handed: std::sync::Mutex<Option<Box<Handed>>>,
}

/// What a handover takes from hyper's connection as it is dropped.
#[derive(Default)]
struct Handed {
    /// The socket and the bytes read of the stream's request, from [`Watched`].
    socket: Option<(TcpStream, Vec<u8>)>,
    /// The service, from [`Tracked`] (the connection's own type).
    service: Option<Box<dyn std::any::Any + Send>>,
}

impl Activity {
    /// Whether bytes read now may be handed over: they start the next head of an HTTP/1
    /// connection after a request without a body (see `may_hand_over`; the first request was
    /// looked at before hyper started), with no request in flight and none of that head read
    /// yet. Anything else (a body's rest, a head's middle) is never taken for a request.
    fn between_http1_requests(&self) -> bool {
        self.in_flight.load(Ordering::Acquire) == 0
            && self.may_hand_over.load(Ordering::Acquire)
            && !self.head_pending.load(Ordering::Relaxed)
    }

    /// Leaves something for the handover.
    fn hand(&self, leave: impl FnOnce(&mut Handed)) {
        if let Ok(mut handed) = self.handed.lock() {
            leave(handed.get_or_insert_with(Box::default));
        }
    }

    /// Bytes arrived from the client.
    fn read_some(&self) {
        if self.in_flight.load(Ordering::Acquire) == 0 && !self.head_pending.load(Ordering::Relaxed)
        {
            self.head_pending.store(true, Ordering::Relaxed);
        }
    }
}

/// Since when a condition has held without progress, as seen by the periodic check: it holds
/// from the first check that saw it, for as long as the progress counter stays put.
#[derive(Default)]
struct Stalled(Option<(Instant, u64)>);

impl Stalled {
    /// Whether the condition has held, with `progress` unchanged, for at least `bound`.
    fn exceeds(&mut self, holds: bool, progress: u64, now: Instant, bound: Duration) -> bool {
        match self.0 {
            Some((since, seen)) if holds && seen == progress => now - since >= bound,
            _ => {
                self.0 = holds.then_some((now, progress));
                false
            }
        }
    }
}

/// Serves `accepted`: with hyper, or, if its first request or a later one on a kept-alive HTTP/1
/// connection opens a stream, in a task of its own without hyper ([`event_stream`]).
///
/// The steps take what they hold by reference wherever they can: an async function's state
/// keeps both its own copy of a value and the copy it moved into the future it awaits, and this
/// future lives as long as the connection.
fn serve<S>(
    service: S,
    accepted: Accepted,
    stream_paths: &'static [&'static str],
) -> impl Future<Output = ()> + Send
where
    S: tower::Service<Request, Response = Response, Error = Infallible> + Clone + Send + 'static,
    S::Future: Send + 'static,
{
    FutureExt::map(serve_http(service, accepted, stream_paths), |handover| {
        if let Some(handover) = handover {
            // This task is sized for hyper's connection, which a stream does not need.
            tokio::spawn(handover.serve());
        }
    })
}

/// A connection for [`event_stream`], from its first request or given up by hyper between two
/// requests because the next one opens a stream: the service, the socket, the bytes already
/// read of that request, its place under the connection cap, and the limits.
struct Handover<S> {
    service: S,
    stream: TcpStream,
    start: Vec<u8>,
    slot: OwnedSemaphorePermit,
    limits: ConnectionLimits,
}

impl<S> Handover<S>
where
    S: tower::Service<Request, Response = Response, Error = Infallible> + Send + 'static,
    S::Future: Send + 'static,
{
    async fn serve(self) {
        let _slot = self.slot;
        event_stream::serve(self.service, self.stream, self.limits, self.start).await;
    }
}

/// Serves `accepted` with hyper until the client closes it, it idles past the idle timeout, or
/// the acceptor drains; or returns it for [`event_stream`] when its first request opens a stream,
/// or a later one does between requests on an HTTP/1 connection.
async fn serve_http<S>(
    service: S,
    accepted: Accepted,
    stream_paths: &'static [&'static str],
) -> Option<Handover<S>>
where
    S: tower::Service<Request, Response = Response, Error = Infallible> + Clone + Send + 'static,
    S::Future: Send + 'static,
{
    let Accepted {
        builder,
        stream,
        peer: _,
        limits,
        mut draining,
        slot,
    } = accepted;
    if first_request_opens_stream(&stream, limits.header_read_timeout, stream_paths).await? {
        let start = Vec::new();
        return Some(Handover {
            service,
            stream,
            start,
            slot,
            limits,
        });
    }
    let activity = Arc::new(Activity::default());
    let tracked = Tracked {
        service: RefCell::new(service),
        activity: Arc::clone(&activity),
    };
    let stream = Watched {
        inner: Some(stream),
        activity: Arc::clone(&activity),
        stream_paths,
        handover: None,
    };
    {
        let connection = builder.serve_connection(TokioIo::new(stream), tracked);
        tokio::pin!(connection);
        drive(connection, &activity, &limits, &mut draining).await;
    }
    // hyper's connection is gone, and with it the socket and the service it held: a handover
    // left them here (and is dropped once the acceptor drains: no stream starts then).
    let handed = activity.handed.lock().ok()?.take()?;
    let ((stream, start), service) = (handed.socket?, handed.service?);
    if *draining.borrow() {
        return None;
    }
    let service = *service.downcast::<S>().ok()?;
    Some(Handover {
        service,
        stream,
        start,
        slot,
        limits,
    })
}

/// Runs hyper's `connection` until it ends, enforcing the connection's bounds and closing it
/// gracefully on a drain or a handover.
async fn drive<C: GracefulConnection>(
    mut connection: Pin<&mut C>,
    activity: &Activity,
    limits: &ConnectionLimits,
    draining: &mut watch::Receiver<bool>,
) where
    C::Error: std::fmt::Display,
{
    let drain = draining.changed();
    tokio::pin!(drain);
    let mut side = SideEvents::new(limits);
    let mut watchdog = Watchdog::default();
    let mut closing = false;
    loop {
        let handover = &activity.handover_pending;
        match side
            .next(connection.as_mut(), drain.as_mut(), closing, handover)
            .await
        {
            Event::Ended(result) => {
                if let Err(error) = result {
                    tracing::debug!(%error, "connection ended with an error");
                }
                return;
            }
            Event::Check => match watchdog.check(activity, limits) {
                Verdict::Keep => {}
                Verdict::Drop => {
                    tracing::debug!("dropping a connection whose request head is late");
                    return;
                }
                Verdict::Close if !closing => {
                    tracing::debug!("closing an idle connection");
                    connection.as_mut().graceful_shutdown();
                    closing = true;
                }
                Verdict::Close => {}
            },
            // hyper finishes the response it is writing, if any, then closes its side.
            Event::Drain | Event::Handover => {
                connection.as_mut().graceful_shutdown();
                closing = true;
            }
        }
    }
}

/// Whether the connection's first request opens a stream, from its first bytes (peeked, not
/// read); `None` if no byte arrived within `timeout`. hyper's header-read timeout starts once
/// the protocol is known, and the auto builder learns it from the first bytes, so a client that
/// sends nothing at all is dropped here.
async fn first_request_opens_stream(
    stream: &TcpStream,
    timeout: Duration,
    stream_paths: &[&str],
) -> Option<bool> {
    let mut start = [0u8; event_stream::PEEK_BYTES];
    match tokio::time::timeout(timeout, stream.peek(&mut start)).await {
        Ok(Ok(peeked)) if peeked > 0 => {
            Some(event_stream::opens_stream(&start[..peeked], stream_paths))
        }
        _ => None,
    }
}

/// The connection's periodic check and the acceptor's drain signal, polled only when one of
/// them woke the task: the connection itself is polled on every wake-up, and each request
/// would otherwise poll a timer and the drain signal every connection shares.
struct SideEvents {
    check: tokio::time::Interval,
    side: Arc<SideWake>,
    side_waker: Waker,
}

impl SideEvents {
    fn new(limits: &ConnectionLimits) -> Self {
        // Checked four times per shortest bound: a condition is seen at most one check after it
        // starts and acted on at most one check after its bound, so within 1.5 times the bound.
        let check = tokio::time::interval(
            (limits.idle_timeout.min(limits.header_read_timeout) / 4)
                .min(Duration::from_secs(5))
                .max(Duration::from_millis(100)),
        );
        let side = Arc::new(SideWake::default());
        let side_waker = Waker::from(Arc::clone(&side));
        Self {
            check,
            side,
            side_waker,
        }
    }

    /// What happens next: the connection ends, the check is due, or `drain` (the acceptor's
    /// signal) fires, or a stream's request is held back for a handover; the last two are not
    /// reported again once the connection is `closing`.
    async fn next<C: GracefulConnection, D: Future>(
        &mut self,
        mut connection: Pin<&mut C>,
        mut drain: Pin<&mut D>,
        closing: bool,
        handover: &AtomicBool,
    ) -> Event<C::Error> {
        let event = std::future::poll_fn(|cx| {
            if let Poll::Ready(result) = connection.as_mut().poll(cx) {
                return Poll::Ready(Event::Ended(result));
            }
            if !closing && handover.load(Ordering::Acquire) {
                return Poll::Ready(Event::Handover);
            }
            if self.side.take(cx.waker()) {
                let mut side_cx = Context::from_waker(&self.side_waker);
                if self.check.poll_tick(&mut side_cx).is_ready() {
                    return Poll::Ready(Event::Check);
                }
                if !closing && drain.as_mut().poll(&mut side_cx).is_ready() {
                    return Poll::Ready(Event::Drain);
                }
            }
            Poll::Pending
        })
        .await;
        if matches!(event, Event::Check | Event::Drain) {
            // One of them fired: the other was not polled this turn.
            self.side.again();
        }
        event
    }
}

/// The bounds the periodic check enforces: a request head that takes too long, a connection
/// idle too long.
#[derive(Default)]
struct Watchdog {
    late_head: Stalled,
    idle: Stalled,
}

/// What the periodic check decided.
enum Verdict {
    Keep,
    /// A request head is late: drop the connection.
    Drop,
    /// Idle too long: close it gracefully.
    Close,
}

impl Watchdog {
    fn check(&mut self, activity: &Activity, limits: &ConnectionLimits) -> Verdict {
        let now = Instant::now();
        let head_pending = activity.head_pending.load(Ordering::Relaxed);
        let begun = activity.begun.load(Ordering::Acquire);
        if self
            .late_head
            .exceeds(head_pending, begun, now, limits.header_read_timeout)
        {
            return Verdict::Drop;
        }
        let quiet = activity.in_flight.load(Ordering::Acquire) == 0;
        let finished = activity.finished.load(Ordering::Acquire);
        if self.idle.exceeds(quiet, finished, now, limits.idle_timeout) {
            return Verdict::Close;
        }
        Verdict::Keep
    }
}

/// What woke a connection's loop.
enum Event<E> {
    Ended(Result<(), E>),
    Check,
    Drain,
    /// A request that opens a stream arrived between requests: hyper should close.
    Handover,
}

/// The waker of a connection's periodic check and drain signal: notes that one of them fired,
/// then wakes the connection's task.
struct SideWake {
    fired: AtomicBool,
    task: AtomicWaker,
}

impl Default for SideWake {
    fn default() -> Self {
        Self {
            // Polled once at the start, so that each registers its waker.
            fired: AtomicBool::new(true),
            task: AtomicWaker::new(),
        }
    }
}

impl SideWake {
    /// Whether the check or the drain fired since the last call; keeps `task` to wake.
    fn take(&self, task: &Waker) -> bool {
        self.task.register(task);
        self.fired.swap(false, Ordering::AcqRel)
    }

    /// Poll both again on the next turn (one returned ready: the other was not polled).
    fn again(&self) {
        self.fired.store(true, Ordering::Release);
    }
}

impl std::task::Wake for SideWake {
    fn wake(self: Arc<Self>) {
        self.wake_by_ref();
    }

    fn wake_by_ref(self: &Arc<Self>) {
        self.fired.store(true, Ordering::Release);
        self.task.wake();
    }
}

/// The client's stream, noting when bytes arrive between requests (a request head starting),
/// and holding back from hyper a request that opens a stream (see [`Handover`]).
struct Watched {
    /// Always there, until dropped.
    inner: Option<TcpStream>,
    activity: Arc<Activity>,
    stream_paths: &'static [&'static str],
    /// The bytes of a stream's request, held back from hyper.
    handover: Option<Vec<u8>>,
}

impl Watched {
    fn inner(&mut self) -> Pin<&mut TcpStream> {
        Pin::new(self.inner.as_mut().expect("taken only when dropped"))
    }
}

impl AsyncRead for Watched {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<std::io::Result<()>> {
        if self.handover.is_some() {
            // hyper waits for a request that will never come; it is closing.
            return Poll::Pending;
        }
        let before = buf.filled().len();
        let read = self.inner().poll_read(cx, buf);
        let arrived = &buf.filled()[before..];
        if arrived.is_empty() {
            return read;
        }
        if event_stream::opens_stream(arrived, self.stream_paths)
            && self.activity.between_http1_requests()
        {
            self.handover = Some(arrived.to_vec());
            buf.set_filled(before);
            self.activity
                .handover_pending
                .store(true, Ordering::Release);
            cx.waker().wake_by_ref();
            return Poll::Pending;
        }
        self.activity.read_some();
        read
    }
}

impl Drop for Watched {
    fn drop(&mut self) {
        if let (Some(start), Some(stream)) = (self.handover.take(), self.inner.take()) {
            self.activity
                .hand(|handed| handed.socket = Some((stream, start)));
        }
    }
}

impl AsyncWrite for Watched {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bytes: &[u8],
    ) -> Poll<std::io::Result<usize>> {
        self.inner().poll_write(cx, bytes)
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[std::io::IoSlice<'_>],
    ) -> Poll<std::io::Result<usize>> {
        self.inner().poll_write_vectored(cx, bufs)
    }

    fn is_write_vectored(&self) -> bool {
        self.inner
            .as_ref()
            .is_some_and(TcpStream::is_write_vectored)
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        self.inner().poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        if self.handover.is_some() {
            // The connection goes on without hyper.
            return Poll::Ready(Ok(()));
        }
        self.inner().poll_shutdown(cx)
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
        self.0.finished.fetch_add(1, Ordering::AcqRel);
        self.0.in_flight.fetch_sub(1, Ordering::AcqRel);
    }
}

/// The service, counting the requests in flight for the idle timeout.
///
/// The service is the connection's own (cloned once, when it was accepted) and is called in
/// place: a clone per request would touch reference counts every worker thread shares.
struct Tracked<S: Clone + Send + 'static> {
    service: RefCell<S>,
    activity: Arc<Activity>,
}

impl<S: Clone + Send + 'static> Drop for Tracked<S> {
    /// On a handover, leaves a copy of the service for the stream (no copy otherwise).
    fn drop(&mut self) {
        if self.activity.handover_pending.load(Ordering::Acquire) {
            let service = Box::new(self.service.get_mut().clone());
            self.activity.hand(|handed| handed.service = Some(service));
        }
    }
}

impl<S> hyper::service::Service<hyper::Request<Incoming>> for Tracked<S>
where
    S: tower::Service<Request, Response = Response, Error = Infallible> + Clone + Send + 'static,
{
    type Response = Response;
    type Error = Infallible;
    type Future = TrackedFuture<Either<S::Future, Oneshot<S, Request>>>;

    fn call(&self, request: hyper::Request<Incoming>) -> Self::Future {
        // The head is in: whatever is read from now on is this request's body or the next head.
        self.activity.begun.fetch_add(1, Ordering::AcqRel);
        self.activity.head_pending.store(false, Ordering::Relaxed);
        let http1 = request.version() != hyper::Version::HTTP_2;
        let bodiless = axum::body::HttpBody::is_end_stream(request.body());
        self.activity
            .may_hand_over
            .store(http1 && bodiless, Ordering::Release);
        let in_flight = Some(InFlight::begin(&self.activity));
        let request = if http1 && !bodiless {
            let activity = Arc::clone(&self.activity);
            request.map(|inner| Body::new(BodyRead { inner, activity }))
        } else {
            request.map(Body::new)
        };
        // hyper calls the service from the connection's task, one call at a time: the borrow
        // ends with this call. A service that is not ready at once (ours always is) is waited
        // for on a clone.
        let mut service = self.service.borrow_mut();
        let inner = match service.poll_ready(&mut Context::from_waker(Waker::noop())) {
            Poll::Ready(Ok(())) => Either::Left(service.call(request)),
            Poll::Pending => Either::Right(service.clone().oneshot(request)),
        };
        TrackedFuture { inner, in_flight }
    }
}

pin_project_lite::pin_project! {
    /// An HTTP/1 request's body, noting when it has been read to its end: only then may the
    /// bytes that follow start a head handed over (see `Activity::may_hand_over`).
    struct BodyRead<B> {
        #[pin]
        inner: B,
        activity: Arc<Activity>,
    }
}

impl<B: axum::body::HttpBody> axum::body::HttpBody for BodyRead<B> {
    type Data = B::Data;
    type Error = B::Error;

    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<hyper::body::Frame<B::Data>, B::Error>>> {
        let mut this = self.project();
        let frame = ready!(this.inner.as_mut().poll_frame(cx));
        let ended = match &frame {
            None => true,
            Some(Ok(_)) => this.inner.is_end_stream(),
            Some(Err(_)) => false,
        };
        if ended {
            this.activity.may_hand_over.store(true, Ordering::Release);
        }
        Poll::Ready(frame)
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> hyper::body::SizeHint {
        self.inner.size_hint()
    }
}

pin_project_lite::pin_project! {
    /// A request's response, with the request counted in flight until it is sent.
    struct TrackedFuture<F> {
        #[pin]
        inner: F,
        in_flight: Option<InFlight>,
    }
}

impl<F> Future for TrackedFuture<F>
where
    F: Future<Output = Result<Response, Infallible>>,
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

#[cfg(test)]
mod tests {
    use axum::body::Bytes;
    use futures_util::StreamExt;
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    use tokio::net::TcpListener;
    use tokio::sync::Semaphore;

    use super::super::test_io::read_until;
    use super::*;

    const BIG: usize = 16 * 1024 * 1024;

    /// One connection served as the acceptor serves it, with `/stream` a stream path: `/big`
    /// answers `BIG` bytes of known length, `/stream` one event and then nothing.
    async fn one_connection() -> (TcpStream, tokio::task::JoinHandle<()>, watch::Sender<bool>) {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let client = TcpStream::connect(listener.local_addr().unwrap());
        let (client, accepted) = tokio::join!(client, listener.accept());
        let (stream, peer) = accepted.unwrap();
        let service = tower::service_fn(|request: Request| async move {
            let body = match request.uri().path() {
                "/big" => Body::from(vec![b'x'; BIG]),
                "/read" => {
                    let body = axum::body::to_bytes(request.into_body(), 1024)
                        .await
                        .unwrap();
                    Body::from(format!("read {}", body.len()))
                }
                "/stream" => Body::from_stream(
                    futures_util::stream::iter([Ok::<_, Infallible>(Bytes::from_static(
                        b"data: hi\n\n",
                    ))])
                    .chain(futures_util::stream::pending()),
                ),
                _ => Body::from("ok"),
            };
            Ok::<_, Infallible>(Response::new(body))
        });
        let limits = ConnectionLimits::default();
        let (drain, draining) = watch::channel(false);
        let slot = Arc::new(Semaphore::new(1)).try_acquire_owned().unwrap();
        let accepted = Accepted {
            builder: builder(&limits),
            stream,
            peer,
            limits,
            draining,
            slot,
        };
        let task = tokio::spawn(serve(service, accepted, &["/stream"]));
        (client.unwrap(), task, drain)
    }

    #[tokio::test]
    async fn a_stream_asked_while_hyper_writes_a_response_waits_for_its_end_then_leaves_hyper() {
        let (mut client, task, _drain) = one_connection().await;
        client
            .write_all(b"GET /big HTTP/1.1\r\nHost: x\r\n\r\n")
            .await
            .unwrap();
        let mut seen = Vec::new();
        read_until(&mut client, &mut seen, b"\r\n\r\n").await;
        let head_end = seen.windows(4).position(|w| w == b"\r\n\r\n").unwrap() + 4;
        assert!(
            seen.len() < head_end + BIG,
            "the body is still being written"
        );
        // The stream's request arrives while hyper is still writing the big body.
        client
            .write_all(b"GET /stream HTTP/1.1\r\nHost: x\r\n\r\n")
            .await
            .unwrap();
        read_until(&mut client, &mut seen, b"data: hi\n\n").await;
        let body = &seen[head_end..head_end + BIG];
        assert!(
            body.iter().all(|&b| b == b'x'),
            "the big body arrived whole"
        );
        let second = String::from_utf8_lossy(&seen[head_end + BIG..]).into_owned();
        assert!(second.starts_with("HTTP/1.1 200 OK\r\n"), "{second}");
        assert!(
            second.contains("\r\nconnection: close\r\n"),
            "served without hyper: {second}"
        );
        assert!(
            second.contains("\r\ntransfer-encoding: chunked\r\n"),
            "{second}"
        );
        drop(client);
        task.await.unwrap();
    }

    #[tokio::test]
    async fn requests_between_streams_stay_with_hyper_and_keep_the_connection() {
        let (mut client, task, _drain) = one_connection().await;
        let mut seen = Vec::new();
        for _ in 0..2 {
            client
                .write_all(b"GET /other HTTP/1.1\r\nHost: x\r\n\r\n")
                .await
                .unwrap();
            read_until(&mut client, &mut seen, b"\r\n\r\nok").await;
            let answer = String::from_utf8_lossy(&seen).into_owned();
            assert!(!answer.contains("connection: close"), "{answer}");
            seen.clear();
        }
        client
            .write_all(b"GET /stream?x HTTP/1.1\r\nHost: x\r\n\r\n")
            .await
            .unwrap();
        read_until(&mut client, &mut seen, b"data: hi\n\n").await;
        assert!(String::from_utf8_lossy(&seen).contains("connection: close"));
        drop(client);
        task.await.unwrap();
    }

    #[tokio::test]
    async fn a_stream_request_inside_an_unread_body_is_never_served() {
        let (mut client, task, _drain) = one_connection().await;
        let smuggled = b"GET /stream HTTP/1.1\r\nHost: x\r\n\r\n";
        let head = format!(
            "POST /other HTTP/1.1\r\nHost: x\r\nContent-Length: {}\r\n\r\n",
            smuggled.len()
        );
        client.write_all(head.as_bytes()).await.unwrap();
        // Answered before its body arrives (the service never reads it): hyper drains the body.
        let mut seen = Vec::new();
        read_until(&mut client, &mut seen, b"\r\n\r\nok").await;
        // hyper either drains the body and serves what follows, or closes: either way the body
        // is never taken for a request.
        let _ = client.write_all(smuggled).await;
        let _ = client
            .write_all(b"GET /other HTTP/1.1\r\nHost: x\r\n\r\n")
            .await;
        let mut rest = Vec::new();
        let mut buf = [0u8; 4096];
        while !String::from_utf8_lossy(&rest).contains("\r\n\r\nok") {
            match tokio::time::timeout(Duration::from_secs(10), client.read(&mut buf)).await {
                Ok(Ok(n)) if n > 0 => rest.extend_from_slice(&buf[..n]),
                Ok(_) => break,
                Err(_) => panic!("neither answered nor closed"),
            }
        }
        let rest = String::from_utf8_lossy(&rest).into_owned();
        assert!(
            !rest.contains("data: hi"),
            "the body was taken for a request: {rest}"
        );
        assert!(!rest.contains("chunked"), "{rest}");
        drop(client);
        task.await.unwrap();
    }

    #[tokio::test]
    async fn a_stream_after_a_body_read_to_its_end_is_handed_over() {
        let (mut client, task, _drain) = one_connection().await;
        client
            .write_all(b"POST /read HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\n\r\nhello")
            .await
            .unwrap();
        let mut seen = Vec::new();
        read_until(&mut client, &mut seen, b"\r\n\r\nread 5").await;
        client
            .write_all(b"GET /stream HTTP/1.1\r\nHost: x\r\n\r\n")
            .await
            .unwrap();
        seen.clear();
        read_until(&mut client, &mut seen, b"data: hi").await;
        let answer = String::from_utf8_lossy(&seen).into_owned();
        assert!(
            answer.contains("connection: close\r\n"),
            "handed over: {answer}"
        );
        drop(client);
        task.await.unwrap();
    }

    #[test]
    fn only_the_start_of_a_head_after_a_bodiless_http1_request_hands_over() {
        let activity = Activity::default();
        assert!(
            !activity.between_http1_requests(),
            "the first request is hyper's"
        );
        activity.may_hand_over.store(true, Ordering::Relaxed);
        assert!(activity.between_http1_requests());
        activity.in_flight.store(1, Ordering::Relaxed);
        assert!(!activity.between_http1_requests(), "a request in flight");
        activity.in_flight.store(0, Ordering::Relaxed);
        activity.read_some();
        assert!(!activity.between_http1_requests(), "a head's middle");
        activity.head_pending.store(false, Ordering::Relaxed);
        assert!(activity.between_http1_requests());
        activity.may_hand_over.store(false, Ordering::Relaxed);
        assert!(
            !activity.between_http1_requests(),
            "after a body, or HTTP/2"
        );
    }

    #[test]
    fn a_stall_counts_from_the_first_check_that_saw_it_and_progress_resets_it() {
        let bound = Duration::from_secs(10);
        let t0 = Instant::now();
        let at = |s: u64| t0 + Duration::from_secs(s);
        let mut stalled = Stalled::default();
        assert!(!stalled.exceeds(true, 1, at(0), bound), "first seen");
        assert!(!stalled.exceeds(true, 1, at(9), bound));
        assert!(
            stalled.exceeds(true, 1, at(10), bound),
            "held for the bound"
        );
        assert!(
            !stalled.exceeds(true, 2, at(11), bound),
            "progress starts over"
        );
        assert!(!stalled.exceeds(true, 2, at(20), bound));
        assert!(!stalled.exceeds(false, 2, at(21), bound), "no longer holds");
        assert!(
            !stalled.exceeds(true, 2, at(22), bound),
            "holds again: from now"
        );
        assert!(stalled.exceeds(true, 2, at(32), bound));
    }

    #[test]
    fn bytes_start_a_head_only_between_requests() {
        let activity = Activity::default();
        activity.in_flight.store(1, Ordering::Relaxed);
        activity.read_some();
        assert!(!activity.head_pending.load(Ordering::Relaxed), "a body");
        activity.in_flight.store(0, Ordering::Relaxed);
        activity.read_some();
        assert!(activity.head_pending.load(Ordering::Relaxed), "a head");
    }
}
