//! A web dyno's feed of finished backtest runs (`backtest_done` notifications), so the request
//! that queued a run can wait briefly for it without holding a connection or polling.

use std::time::Duration;

use tokio::sync::broadcast;
use tokio::task::JoinHandle;
use uuid::Uuid;

use crate::pg::listen::{self, Notice};

/// Finished run ids as they are notified; the listener stops when this is dropped.
pub struct FinishedRuns {
    sender: broadcast::Sender<Uuid>,
    listener: JoinHandle<()>,
}

impl FinishedRuns {
    /// Starts listening on [`super::DONE_CHANNEL`].
    pub fn listen(config: tokio_postgres::Config) -> Self {
        let (sender, _) = broadcast::channel(1024);
        let tx = sender.clone();
        let listener = listen::spawn(config, super::DONE_CHANNEL, move |notice| {
            if let Notice::Payload(payload) = notice {
                if let Ok(id) = payload.parse::<Uuid>() {
                    let _ = tx.send(id);
                }
            }
            true
        });
        Self { sender, listener }
    }

    /// Subscribe before queueing the run, so its notification cannot be missed.
    pub fn subscribe(&self) -> FinishedWaiter {
        FinishedWaiter(self.sender.subscribe())
    }
}

impl Drop for FinishedRuns {
    fn drop(&mut self) {
        self.listener.abort();
    }
}

/// Waits for one run's "finished" notification (subscribed before the run is queued).
pub struct FinishedWaiter(broadcast::Receiver<Uuid>);

impl FinishedWaiter {
    /// Whether `id` was notified within `within` (a lost notification reads as `false`: the
    /// caller reads the run's row either way).
    pub async fn wait_for(&mut self, id: Uuid, within: Duration) -> bool {
        let wait = async {
            loop {
                match self.0.recv().await {
                    Ok(done) if done == id => return true,
                    Ok(_) | Err(broadcast::error::RecvError::Lagged(_)) => {}
                    Err(broadcast::error::RecvError::Closed) => return false,
                }
            }
        };
        tokio::time::timeout(within, wait).await.unwrap_or(false)
    }
}
