//! The HTTP acceptor: accepts connections on the shared listener and serves the router on each
//! with hyper-util's auto (HTTP/1 and HTTP/2) builder.
//!
//! On [`AcceptorMsg::Drain`] it stops accepting, asks every open connection to finish its
//! in-flight requests and close, and waits for them up to a bound. If the actor fails, its
//! accept loop is aborted with it; the restarted actor accepts on the same listener, and
//! connections already open keep being served.

use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use axum::extract::ConnectInfo;
use axum::Router;
use hyper::body::Incoming;
use hyper_util::rt::{TokioExecutor, TokioIo};
use hyper_util::server::conn::auto;
use hyper_util::server::graceful::GracefulShutdown;
use hyper_util::service::TowerToHyperService;
use ractor::{Actor, ActorProcessingErr, ActorRef, RpcReplyPort};
use tokio::net::TcpListener;
use tokio::sync::watch;
use tower::ServiceExt;

use crate::task::AbortOnDrop;

pub struct AcceptorArgs {
    pub listener: Arc<TcpListener>,
    pub router: Router,
    /// Longest wait for in-flight requests once draining starts.
    pub drain_timeout: Duration,
}

impl Clone for AcceptorArgs {
    fn clone(&self) -> Self {
        Self {
            listener: Arc::clone(&self.listener),
            router: self.router.clone(),
            drain_timeout: self.drain_timeout,
        }
    }
}

/// How a drain ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Drained {
    /// Every connection finished.
    Clean,
    /// The bound passed with connections still open; they are dropped.
    TimedOut,
}

pub enum AcceptorMsg {
    /// Stop accepting and wait for open connections; replies when done.
    Drain(RpcReplyPort<Drained>),
}

pub struct Acceptor;

pub struct AcceptorState {
    stop: watch::Sender<bool>,
    accept_loop: Option<AbortOnDrop<Drained>>,
}

impl Actor for Acceptor {
    type Msg = AcceptorMsg;
    type State = AcceptorState;
    type Arguments = AcceptorArgs;

    async fn pre_start(
        &self,
        _: ActorRef<AcceptorMsg>,
        args: AcceptorArgs,
    ) -> Result<AcceptorState, ActorProcessingErr> {
        let (stop, stopped) = watch::channel(false);
        let handle = tokio::spawn(accept_loop(args, stopped));
        Ok(AcceptorState {
            stop,
            accept_loop: Some(AbortOnDrop(handle)),
        })
    }

    async fn handle(
        &self,
        _: ActorRef<AcceptorMsg>,
        msg: AcceptorMsg,
        state: &mut AcceptorState,
    ) -> Result<(), ActorProcessingErr> {
        match msg {
            AcceptorMsg::Drain(reply) => {
                let _ = state.stop.send(true);
                let drained = match state.accept_loop.take() {
                    Some(mut task) => (&mut task.0).await.unwrap_or(Drained::TimedOut),
                    None => Drained::Clean,
                };
                let _ = reply.send(drained);
            }
        }
        Ok(())
    }
}

async fn accept_loop(args: AcceptorArgs, mut stopped: watch::Receiver<bool>) -> Drained {
    let AcceptorArgs {
        listener,
        router,
        drain_timeout,
    } = args;
    let builder = auto::Builder::new(TokioExecutor::new());
    let graceful = GracefulShutdown::new();
    loop {
        tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok((stream, peer)) => {
                    let _ = stream.set_nodelay(true);
                    let service = TowerToHyperService::new(with_peer(router.clone(), peer));
                    let connection = builder.serve_connection(TokioIo::new(stream), service).into_owned();
                    let connection = graceful.watch(connection);
                    tokio::spawn(async move {
                        if let Err(error) = connection.await {
                            tracing::debug!(%error, "connection ended with an error");
                        }
                    });
                }
                Err(error) => {
                    // Typically out of file descriptors: back off instead of spinning.
                    tracing::warn!(%error, "accept failed");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                }
            },
            _ = stopped.changed() => break,
        }
    }
    // The supervisor dropped its handle when draining began: with this one gone the socket
    // closes, and new connections are refused instead of queueing where nobody accepts them.
    drop(listener);
    tracing::info!(open_connections = graceful.count(), "acceptor draining");
    match tokio::time::timeout(drain_timeout, graceful.shutdown()).await {
        Ok(()) => Drained::Clean,
        Err(_) => Drained::TimedOut,
    }
}

/// The router with the connection's peer address attached to every request.
fn with_peer(
    router: Router,
    peer: SocketAddr,
) -> impl tower::Service<
    hyper::Request<Incoming>,
    Response = axum::response::Response,
    Error = Infallible,
    Future = impl Send,
> + Clone {
    tower::service_fn(move |mut request: hyper::Request<Incoming>| {
        request.extensions_mut().insert(ConnectInfo(peer));
        router.clone().oneshot(request.map(axum::body::Body::new))
    })
}
