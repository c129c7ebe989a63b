//! The books' background work: the periodic reconciliation on web dynos (they hold the broker;
//! one dyno at a time, [`crate::trading::reconcile::reconcile_if_due`]) and the daily close
//! snapshot on workers ([`snapshot_if_due`], once across workers through `job_runs`).

use std::time::Duration;

use chrono::{DateTime, Datelike, NaiveTime, Utc, Weekday};
use deadpool_postgres::Pool;
use raptor_actors::clock::SharedClock;
use raptor_actors::market_data::MarketDataClient;
use raptor_actors::Actors;
use tokio::task::JoinHandle;

use crate::db::StorageError;
use crate::trading::reconcile;

/// When the close snapshot is taken: after 16:00 New York in winter (21:00 UTC) and summer.
const SNAPSHOT_AFTER: NaiveTime = match NaiveTime::from_hms_opt(21, 5, 0) {
    Some(t) => t,
    None => NaiveTime::MIN,
};
/// How often a worker looks whether the snapshot is due.
const SNAPSHOT_CHECK: Duration = Duration::from_secs(60);
/// A claimed snapshot not finished after this is taken over.
const SNAPSHOT_STALE: chrono::Duration = chrono::Duration::minutes(10);
const JOB: &str = "book_snapshot";

/// A web dyno's periodic reconciliation of open orders.
pub fn spawn_reconciler(pool: Pool, actors: Actors, clock: SharedClock) -> JoinHandle<()> {
    tokio::spawn(async move {
        let mut tick = tokio::time::interval(reconcile::EVERY);
        loop {
            tick.tick().await;
            match reconcile::reconcile_if_due(&pool, &actors, &clock).await {
                Ok(Some(done)) => {
                    tracing::info!(orders = done.orders, "periodic reconciliation")
                }
                Ok(None) => {}
                Err(error) => tracing::warn!(%error, "periodic reconciliation failed"),
            }
        }
    })
}

/// A worker's daily close snapshot of every book.
pub fn spawn_snapshots(
    pool: Pool,
    market_data: MarketDataClient,
    clock: SharedClock,
) -> JoinHandle<()> {
    tokio::spawn(async move {
        let mut tick = tokio::time::interval(SNAPSHOT_CHECK);
        loop {
            tick.tick().await;
            if let Err(error) = snapshot_if_due(&pool, &market_data, clock.now()).await {
                tracing::warn!(%error, "the close snapshot failed; retried next minute");
            }
        }
    })
}

/// The close of the trading day `now` is in, if it has passed (weekdays only).
pub fn close_passed(now: DateTime<Utc>) -> Option<DateTime<Utc>> {
    let weekday = !matches!(now.weekday(), Weekday::Sat | Weekday::Sun);
    let close = now.date_naive().and_time(SNAPSHOT_AFTER).and_utc();
    (weekday && now >= close).then_some(close)
}

/// Takes today's snapshot if the close passed and no worker has taken it; how many books.
pub async fn snapshot_if_due(
    pool: &Pool,
    market_data: &MarketDataClient,
    now: DateTime<Utc>,
) -> Result<Option<u64>, StorageError> {
    let Some(close) = close_passed(now) else {
        return Ok(None);
    };
    let claimed = {
        let client = pool.get().await?;
        client
            .execute(
                "INSERT INTO job_runs (job, tick, started_at) VALUES ($1, $2, $3) \
                 ON CONFLICT (job, tick) DO UPDATE SET started_at = $3 \
                 WHERE job_runs.finished_at IS NULL AND job_runs.started_at < $4",
                &[&JOB, &close, &now, &(now - SNAPSHOT_STALE)],
            )
            .await?
            == 1
    };
    if !claimed {
        return Ok(None);
    }
    let taken = super::snapshots::snapshot_all(pool, market_data, now).await?;
    let client = pool.get().await?;
    client
        .execute(
            "UPDATE job_runs SET finished_at = $3, details = $4 WHERE job = $1 AND tick = $2",
            &[
                &JOB,
                &close,
                &now,
                &serde_json::json!({ "snapshots": taken }),
            ],
        )
        .await?;
    tracing::info!(books = taken, "close snapshot taken");
    Ok(Some(taken))
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    #[test]
    fn the_close_passes_at_twenty_one_five_utc_on_weekdays() {
        let monday = |h, m| Utc.with_ymd_and_hms(2026, 12, 7, h, m, 0).unwrap();
        assert_eq!(close_passed(monday(21, 4)), None);
        assert_eq!(close_passed(monday(21, 5)), Some(monday(21, 5)));
        let saturday = Utc.with_ymd_and_hms(2026, 12, 12, 22, 0, 0).unwrap();
        assert_eq!(close_passed(saturday), None);
    }
}
