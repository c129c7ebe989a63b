//! Whether the database answers, as `GET /api/system/status` reports it: probed once a second
//! by a background task, so the status route answers from memory and a flood of status checks
//! never becomes a flood of database round trips.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use deadpool_postgres::Pool;

/// How often the database is pinged; a ping that takes longer than this counts as down, so the
/// status turns `degraded` within two periods of the database going away.
pub const PROBE_EVERY: Duration = Duration::from_secs(1);

/// The last probe's answer; shared by every request of the process.
#[derive(Clone, Default)]
pub struct Readiness {
    database_up: Arc<AtomicBool>,
}

impl Readiness {
    pub fn database_up(&self) -> bool {
        self.database_up.load(Ordering::Relaxed)
    }

    /// Probes once (startup: the first status answer is already true).
    pub async fn probe_once(&self, pool: &Pool) {
        let answered = crate::db::ping(pool, PROBE_EVERY * 9 / 10).await;
        self.database_up.store(answered, Ordering::Relaxed);
    }

    /// Probes every [`PROBE_EVERY`], for as long as the returned task runs.
    pub fn spawn_probe(&self, pool: Pool) -> tokio::task::JoinHandle<()> {
        let up = Arc::clone(&self.database_up);
        tokio::spawn(async move {
            let mut tick = tokio::time::interval(PROBE_EVERY);
            tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            loop {
                tick.tick().await;
                let answered = crate::db::ping(&pool, PROBE_EVERY * 9 / 10).await;
                up.store(answered, Ordering::Relaxed);
            }
        })
    }
}
