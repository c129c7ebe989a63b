//! The load benchmark's baseline: the least an HTTP server on hyper 1 can do, answering every
//! request with `{"status":"ok"}`. `benches/load.sh` drives it beside `raptor serve` so that the
//! numbers for raptor read as a ratio to what the same machine, runtime and HTTP stack give with
//! no application at all.
//!
//! It uses the same pieces as raptor's acceptor (tokio's multi-threaded runtime, hyper-util's
//! `auto` connection builder, HTTP/1 keep-alive and HTTP/2) and nothing else: no router, no
//! middleware, no logging.
//!
//! ```text
//! cargo run --release --example baseline_hyper -- 8081     # or PORT=8081
//! ```
//!
//! It listens on 127.0.0.1 only, and runs until it is sent SIGINT or SIGTERM.

use std::convert::Infallible;
use std::net::{Ipv4Addr, SocketAddr};
use std::pin::Pin;
use std::task::{Context, Poll};

use hyper::body::{Body, Bytes, Frame, SizeHint};
use hyper::header::{HeaderValue, CONTENT_TYPE};
use hyper::service::service_fn;
use hyper::{Request, Response};
use hyper_util::rt::{TokioExecutor, TokioIo};
use hyper_util::server::conn::auto;
use tokio::net::TcpListener;
use tokio::signal::unix::{signal, SignalKind};

const BODY: &[u8] = br#"{"status":"ok"}"#;

/// A body of one chunk, known in advance (so hyper sends a `content-length`).
struct Full(Option<Bytes>);

impl Body for Full {
    type Data = Bytes;
    type Error = Infallible;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        _: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, Infallible>>> {
        Poll::Ready(self.0.take().map(|data| Ok(Frame::data(data))))
    }

    fn is_end_stream(&self) -> bool {
        self.0.is_none()
    }

    fn size_hint(&self) -> SizeHint {
        SizeHint::with_exact(self.0.as_ref().map_or(0, |data| data.len() as u64))
    }
}

async fn answer(_: Request<hyper::body::Incoming>) -> Result<Response<Full>, Infallible> {
    let mut response = Response::new(Full(Some(Bytes::from_static(BODY))));
    response
        .headers_mut()
        .insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
    Ok(response)
}

fn port() -> Result<u16, String> {
    let raw = std::env::args()
        .nth(1)
        .or_else(|| std::env::var("PORT").ok())
        .unwrap_or_else(|| "8081".to_owned());
    raw.parse()
        .map_err(|_| format!("baseline_hyper: not a port: {raw:?}"))
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let addr = SocketAddr::from((Ipv4Addr::LOCALHOST, port()?));
    let listener = TcpListener::bind(addr).await?;
    eprintln!(
        "baseline_hyper listening on http://{}",
        listener.local_addr()?
    );
    let mut interrupt = signal(SignalKind::interrupt())?;
    let mut terminate = signal(SignalKind::terminate())?;
    let builder = auto::Builder::new(TokioExecutor::new());
    loop {
        let (stream, _) = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok(accepted) => accepted,
                Err(error) => {
                    eprintln!("baseline_hyper: accept failed: {error}");
                    tokio::time::sleep(std::time::Duration::from_millis(50)).await;
                    continue;
                }
            },
            _ = interrupt.recv() => break,
            _ = terminate.recv() => break,
        };
        let _ = stream.set_nodelay(true);
        let builder = builder.clone();
        tokio::spawn(async move {
            // A client going away mid-request is not worth a line in a benchmark.
            let _ = builder
                .serve_connection(TokioIo::new(stream), service_fn(answer))
                .await;
        });
    }
    Ok(())
}
