//! The worker's daily copy of Alpaca's assets: after [`REFRESH_AFTER`] UTC each day (before the
//! US pre-market opens at 04:00 New York), one worker replaces the copy, once across workers
//! through `job_runs` (job `asset_refresh`, one row per day). A worker that finds no copy for
//! the day's tick (a fresh deploy) makes it at once. A refresh that fails gives its claim back
//! and is tried again at the next check (a minute later); one whose worker vanished is taken
//! over after [`REFRESH_STALE`]. Nothing is claimed while the configuration engages the kill
//! switch (no credentials, trading off).

use std::time::Duration;

use chrono::{DateTime, NaiveTime, Utc};
use deadpool_postgres::Pool;
use raptor_actors::broker::{self, BrokerError, SharedBrokerConfig};
use raptor_actors::clock::SharedClock;
use raptor_actors::outbound::OutboundBudget;
use tokio::task::JoinHandle;

use crate::db::StorageError;

/// When the day's copy is due: 07:00 UTC.
pub const REFRESH_AFTER: NaiveTime = match NaiveTime::from_hms_opt(7, 0, 0) {
    Some(t) => t,
    None => NaiveTime::MIN,
};
/// How often a worker looks whether the copy is due.
const CHECK_EVERY: Duration = Duration::from_secs(60);
/// A claimed refresh not finished after this is taken over (Alpaca down, worker gone).
pub const REFRESH_STALE: chrono::Duration = chrono::Duration::minutes(10);
const JOB: &str = "asset_refresh";

/// Why the copy could not be refreshed.
#[derive(Debug, thiserror::Error)]
pub enum RefreshError {
    #[error(transparent)]
    Broker(#[from] BrokerError),
    #[error(transparent)]
    Storage(#[from] StorageError),
}
crate::db::storage_errors!(RefreshError);

/// The tick the copy is due for at `now`: today's [`REFRESH_AFTER`], or yesterday's before it.
pub fn due_tick(now: DateTime<Utc>) -> DateTime<Utc> {
    let today = now.date_naive().and_time(REFRESH_AFTER).and_utc();
    if now >= today {
        today
    } else {
        today - chrono::Duration::days(1)
    }
}

/// A worker's daily refresh, checked every minute.
pub fn spawn_refresher(
    pool: Pool,
    config: SharedBrokerConfig,
    budget: OutboundBudget,
    clock: SharedClock,
) -> JoinHandle<()> {
    tokio::spawn(async move {
        let mut tick = tokio::time::interval(CHECK_EVERY);
        loop {
            tick.tick().await;
            let current = config.lock().unwrap_or_else(|e| e.into_inner()).clone();
            match refresh_if_due(&pool, &current, &budget, clock.now()).await {
                Ok(Some(assets)) => tracing::info!(assets, "asset copy refreshed"),
                Ok(None) => {}
                Err(error) => tracing::warn!(%error, "the asset copy could not be refreshed"),
            }
        }
    })
}

/// Replaces the copy if this tick's is due and no worker holds it; how many assets.
pub async fn refresh_if_due(
    pool: &Pool,
    config: &broker::BrokerConfig,
    budget: &OutboundBudget,
    now: DateTime<Utc>,
) -> Result<Option<u64>, RefreshError> {
    if config.engaged_by().is_some() {
        // No credentials or trading off: nothing could be asked, so nothing is claimed.
        return Ok(None);
    }
    let tick = due_tick(now);
    let claimed = {
        let client = pool.get().await?;
        client
            .execute(
                "INSERT INTO job_runs (job, tick, started_at) VALUES ($1, $2, $3) \
                 ON CONFLICT (job, tick) DO UPDATE SET started_at = $3 \
                 WHERE job_runs.finished_at IS NULL AND job_runs.started_at < $4",
                &[&JOB, &tick, &now, &(now - REFRESH_STALE)],
            )
            .await?
            == 1
    };
    if !claimed {
        return Ok(None);
    }
    // Nothing is held while Alpaca answers; a failure gives the claim back (retried next check).
    let mut assets = match broker::list_assets(config, budget).await {
        Ok(assets) => assets,
        Err(error) => {
            let client = pool.get().await?;
            client
                .execute(
                    "DELETE FROM job_runs WHERE job = $1 AND tick = $2 AND started_at = $3 \
                     AND finished_at IS NULL",
                    &[&JOB, &tick, &now],
                )
                .await?;
            return Err(error.into());
        }
    };
    assets.sort_by(|a, b| a.symbol.cmp(&b.symbol));
    assets.dedup_by(|a, b| a.symbol == b.symbol);
    let mut client = pool.get().await?;
    let written = super::repo::replace_listed(&mut client, &assets, now).await?;
    client
        .execute(
            "UPDATE job_runs SET finished_at = $3, details = $4 WHERE job = $1 AND tick = $2",
            &[&JOB, &tick, &now, &serde_json::json!({ "assets": written })],
        )
        .await?;
    Ok(Some(written))
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    #[test]
    fn the_copy_is_due_from_seven_utc_each_day() {
        let at = |d, h| Utc.with_ymd_and_hms(2026, 12, d, h, 0, 0).unwrap();
        assert_eq!(due_tick(at(7, 6)), at(6, 7));
        assert_eq!(due_tick(at(7, 7)), at(7, 7));
        assert_eq!(due_tick(at(12, 23)), at(12, 7));
    }
}
