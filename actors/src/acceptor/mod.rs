//! The HTTP acceptor: accepts connections on the shared listener and serves the application's
//! [`HttpService`] on each with hyper-util's auto (HTTP/1 and HTTP/2) builder.
//!
//! Every connection is held to [`ConnectionLimits`]: a header-read timeout (slow-header clients
//! are dropped), an idle timeout between requests, HTTP/2 stream and header-size limits, and a
//! cap on open connections per process (reaching it is logged; further clients wait in the
//! listen backlog until a connection closes).
//!
//! On [`AcceptorMsg::Drain`] it stops accepting, asks every open connection to finish its
//! in-flight requests and close, and waits for them up to a bound. If the actor fails, its
//! accept loop is aborted with it; the restarted actor accepts on the same listener, and
//! connections already open keep being served.

mod connection;
mod event_stream;
mod limits;
#[cfg(test)]
mod test_io;

use std::sync::Arc;
use std::time::Duration;

use ractor::{Actor, ActorProcessingErr, ActorRef, RpcReplyPort};
use tokio::net::TcpListener;
use tokio::sync::{watch, Semaphore};

use crate::task::AbortOnDrop;
pub use connection::HttpService;
pub use limits::ConnectionLimits;

/// What the acceptor starts with.
#[derive(Clone)]
pub struct AcceptorArgs {
    /// The bound listening socket (bound by startup, so the port is known before the actor runs).
    pub listener: Arc<TcpListener>,
    /// Builds the HTTP service for each accepted connection.
    pub service: HttpService,
    /// Longest wait for in-flight requests once draining starts.
    pub drain_timeout: Duration,
    /// Per-connection bounds (header read timeout, idle timeout, concurrent connections).
    pub limits: ConnectionLimits,
}

/// How a drain ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Drained {
    /// Every connection finished.
    Clean,
    /// The bound passed with connections still open; they are dropped.
    TimedOut,
}

/// The acceptor's messages.
pub enum AcceptorMsg {
    /// Stop accepting and wait for open connections; replies when done.
    Drain(RpcReplyPort<Drained>),
}

/// The acceptor actor: accepts connections and serves HTTP on each until drained.
pub struct Acceptor;

/// The acceptor's state: the accept loop and its stop signal.
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
        service,
        drain_timeout,
        limits,
    } = args;
    let builder = connection::builder(&limits);
    let slots = Arc::new(Semaphore::new(limits.max_connections.max(1)));
    let (drain, draining) = watch::channel(false);
    let mut at_cap_logged = false;
    loop {
        let slot = match Arc::clone(&slots).try_acquire_owned() {
            Ok(slot) => {
                at_cap_logged = false;
                slot
            }
            Err(_) => {
                if !at_cap_logged {
                    tracing::warn!(
                        max_connections = limits.max_connections,
                        "connection cap reached; new connections wait until one closes"
                    );
                    at_cap_logged = true;
                }
                tokio::select! {
                    slot = Arc::clone(&slots).acquire_owned() => match slot {
                        Ok(slot) => slot,
                        Err(_) => break,
                    },
                    _ = stopped.changed() => break,
                }
            }
        };
        tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok((stream, peer)) => {
                    let _ = stream.set_nodelay(true);
                    tokio::spawn(service.serve(connection::Accepted {
                        builder: builder.clone(),
                        stream,
                        peer,
                        limits,
                        draining: draining.clone(),
                        slot,
                    }));
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
    let open = limits.max_connections.max(1) - slots.available_permits();
    tracing::info!(open_connections = open, "acceptor draining");
    let _ = drain.send(true);
    // Every connection holds a permit until it ends: all permits back means all closed.
    let all = u32::try_from(limits.max_connections.max(1)).unwrap_or(u32::MAX);
    let drained = tokio::time::timeout(drain_timeout, slots.acquire_many(all)).await;
    if drained.is_ok() {
        Drained::Clean
    } else {
        Drained::TimedOut
    }
}
