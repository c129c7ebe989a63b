//! A dedicated connection that LISTENs on one channel and forwards each payload to an actor.
//!
//! When the connection drops it reconnects with backoff, and reports [`Notice::Resync`] first:
//! notifications sent while it was away are lost, so the owner must drop whatever it cached.

use std::time::Duration;

use futures_util::stream::poll_fn;
use futures_util::StreamExt;
use tokio::task::JoinHandle;
use tokio_postgres::AsyncMessage;

/// What a listener delivers to its owner.
#[derive(Debug, Clone)]
pub enum Notice {
    /// A `pg_notify` payload on the channel.
    Payload(String),
    /// The listener (re)connected; anything cached may have missed notifications.
    Resync,
}

/// Spawns the listener; `deliver` returns `false` once the owner is gone, which ends it.
pub fn spawn(
    config: tokio_postgres::Config,
    channel: &'static str,
    deliver: impl Fn(Notice) -> bool + Send + Sync + 'static,
) -> JoinHandle<()> {
    tokio::spawn(async move {
        let mut backoff = Duration::from_millis(100);
        loop {
            match config.connect(super::connector()).await {
                Ok((client, mut connection)) => {
                    let mut messages = poll_fn(move |cx| connection.poll_message(cx));
                    let statement = format!("LISTEN {channel}");
                    // The connection must be polled for LISTEN to complete.
                    let mut listening = std::pin::pin!(client.batch_execute(&statement));
                    let ready = loop {
                        tokio::select! {
                            result = &mut listening => break result.is_ok(),
                            message = messages.next() => if message.is_none() { break false },
                        }
                    };
                    if ready {
                        backoff = Duration::from_millis(100);
                        if !deliver(Notice::Resync) {
                            return;
                        }
                        while let Some(message) = messages.next().await {
                            match message {
                                Ok(AsyncMessage::Notification(n)) => {
                                    if !deliver(Notice::Payload(n.payload().to_owned())) {
                                        return;
                                    }
                                }
                                Ok(_) => {}
                                Err(_) => break,
                            }
                        }
                    }
                    tracing::warn!(channel, "notification listener lost its connection");
                }
                Err(error) => {
                    tracing::warn!(channel, %error, "notification listener cannot connect")
                }
            }
            tokio::time::sleep(backoff).await;
            backoff = (backoff * 2).min(Duration::from_secs(5));
        }
    })
}
