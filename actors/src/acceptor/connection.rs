//! One client connection: served with hyper-util's auto builder (HTTP/1 and HTTP/2) under the
//! process's [`ConnectionLimits`], closed when idle too long, and finished gracefully when the
//! acceptor drains.

use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::extract::ConnectInfo;
use axum::Router;
use hyper::body::Incoming;
use hyper_util::rt::{TokioExecutor, TokioIo, TokioTimer};
use hyper_util::server::conn::auto;
use hyper_util::service::TowerToHyperService;
use tokio::net::TcpStream;
use tokio::sync::{watch, OwnedSemaphorePermit};
use tokio::time::Instant;
use tower::ServiceExt;

use super::ConnectionLimits;

/// The connection builder every accepted connection shares.
pub fn builder(limits: &ConnectionLimits) -> auto::Builder<TokioExecutor> {
    let mut builder = auto::Builder::new(TokioExecutor::new());
    builder
        .http1()
        .timer(TokioTimer::new())
        .header_read_timeout(limits.header_read_timeout)
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

/// Requests in flight on one connection, and when the last one ended.
#[derive(Default)]
struct Activity {
    in_flight: AtomicUsize,
    last_done: Mutex<Option<Instant>>,
}

/// Serves `stream` until the client closes it, it idles past `idle_timeout`, or the acceptor
/// drains; `_slot` is this connection's place under the connection cap, freed on return.
pub async fn serve(
    builder: auto::Builder<TokioExecutor>,
    stream: TcpStream,
    peer: SocketAddr,
    router: Router,
    limits: ConnectionLimits,
    mut draining: watch::Receiver<bool>,
    _slot: OwnedSemaphorePermit,
) {
    // hyper's header-read timeout starts once the protocol is known, and the auto builder
    // learns it from the first bytes: a client that sends nothing at all is dropped here.
    let mut first = [0u8; 1];
    match tokio::time::timeout(limits.header_read_timeout, stream.peek(&mut first)).await {
        Ok(Ok(n)) if n > 0 => {}
        _ => return,
    }
    let idle_timeout = limits.idle_timeout;
    let activity = Arc::new(Activity::default());
    *activity.last_done.lock().unwrap_or_else(|e| e.into_inner()) = Some(Instant::now());
    let service = TowerToHyperService::new(tracked(router, peer, Arc::clone(&activity)));
    let connection = builder.serve_connection(TokioIo::new(stream), service);
    tokio::pin!(connection);
    let mut closing = false;
    let mut check = tokio::time::interval(
        idle_timeout
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
            _ = check.tick(), if !closing => {
                let idle_since = *activity.last_done.lock().unwrap_or_else(|e| e.into_inner());
                let idle = activity.in_flight.load(Ordering::SeqCst) == 0
                    && idle_since.is_some_and(|t| t.elapsed() >= idle_timeout);
                if idle {
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

/// One request in flight; its drop marks the end of the request.
struct InFlight(Arc<Activity>);

impl Drop for InFlight {
    fn drop(&mut self) {
        *self.0.last_done.lock().unwrap_or_else(|e| e.into_inner()) = Some(Instant::now());
        self.0.in_flight.fetch_sub(1, Ordering::SeqCst);
    }
}

/// The router with the connection's peer address attached to every request, counting the
/// requests in flight for the idle timeout.
fn tracked(
    router: Router,
    peer: SocketAddr,
    activity: Arc<Activity>,
) -> impl tower::Service<
    hyper::Request<Incoming>,
    Response = axum::response::Response,
    Error = Infallible,
    Future = impl Send,
> + Clone {
    tower::service_fn(move |mut request: hyper::Request<Incoming>| {
        request.extensions_mut().insert(ConnectInfo(peer));
        let activity = Arc::clone(&activity);
        activity.in_flight.fetch_add(1, Ordering::SeqCst);
        let guard = InFlight(activity);
        let response = router.clone().oneshot(request.map(axum::body::Body::new));
        async move {
            // A streamed body (SSE) keeps the request in flight until it is sent in full or
            // dropped, so a long stream is never taken for an idle connection. A body of known
            // length is written at once: its request ends with the response (no re-boxing).
            response.await.map(|response| {
                if axum::body::HttpBody::size_hint(response.body())
                    .exact()
                    .is_some()
                {
                    return response;
                }
                response.map(|body| {
                    axum::body::Body::new(http_body_util::BodyExt::map_frame(body, move |frame| {
                        let _ = &guard;
                        frame
                    }))
                })
            })
        }
    })
}
