//! The worker job of a backtest run, as the backtest worker actor
//! (`raptor_actors::backtests`) drives it: claim a run with a lease, read its bars through the
//! historical-bars machinery (the Postgres cache, missing ranges fetched from Alpaca under the
//! shared outbound budget), run the engine on the blocking pool, and record the outcome.
//!
//! Bounded: a run spanning more than the bar cap fails; so does one exceeding the wall-clock
//! limit; a run interrupted [`MAX_ATTEMPTS`] times (its dyno died each time) fails rather than
//! taking a worker down again. A storage failure leaves the run leased: it is claimed again
//! once the lease expires.

use std::time::Duration;

use chrono::{DateTime, Utc};
use deadpool_postgres::Pool;
use raptor_actors::backtests::{RunExecutor, RunFailed, RunFuture};
use raptor_actors::clock::SharedClock;
use raptor_actors::market_data::MarketDataClient;
use serde_json::Value;

use super::engine::Bar;
use super::repo::{self, Claimed};
use super::runs::Limits;
use super::{engine, result, BacktestRequest};
use crate::db::StorageError;
use crate::market_data::bars::{historical_bars, BarsDeps};
use crate::market_data::{BarsQuery, DataError};

/// Claims a run may take before it is failed.
pub const MAX_ATTEMPTS: i32 = 3;
/// Runs are kept this long.
pub const RETENTION_DAYS: i64 = 90;
/// Bars read from the cache per page.
const PAGE: u32 = 10_000;

/// Why a run failed, in words its owner reads as `reason`.
#[derive(Debug, thiserror::Error)]
enum RunError {
    #[error("the stored request is no longer valid")]
    Invalid,
    #[error("no bars for {0} in the range")]
    NoBars(String),
    #[error("the range holds more than {0} bars")]
    TooManyBars(u32),
    #[error("market data: {0}")]
    Data(DataError),
    #[error("the engine stopped unexpectedly")]
    Crashed,
    #[error(transparent)]
    Storage(#[from] StorageError),
}

impl From<DataError> for RunError {
    fn from(error: DataError) -> Self {
        match error {
            DataError::Storage(e) => RunError::Storage(e),
            other => RunError::Data(other),
        }
    }
}

/// Everything a run needs; the worker actor holds it as its [`RunExecutor`].
pub struct BacktestJobs {
    pub pool: Pool,
    pub market_data: MarketDataClient,
    /// The bar cache key of the data source (`iex`, `sip`, `synthetic`).
    pub feed: String,
    pub limits: Limits,
    /// The wall-clock limit of one run.
    pub run_limit: Duration,
    pub clock: SharedClock,
}

impl RunExecutor for BacktestJobs {
    fn run_next(&self) -> RunFuture<'_> {
        Box::pin(async move { self.run_next().await.map_err(|e| Box::new(e) as RunFailed) })
    }

    fn tidy(&self) -> RunFuture<'_> {
        Box::pin(async move {
            let before = self.clock.now() - chrono::Duration::days(RETENTION_DAYS);
            let client = self.pool.get().await.map_err(StorageError::from)?;
            let removed = repo::purge(&client, before).await?;
            if removed > 0 {
                tracing::info!(removed, "old backtest runs removed");
            }
            Ok(removed > 0)
        })
    }
}

impl BacktestJobs {
    async fn run_next(&self) -> Result<bool, StorageError> {
        let now = self.clock.now();
        let lease = chrono::Duration::from_std(self.run_limit + Duration::from_secs(30))
            .unwrap_or_else(|_| chrono::Duration::minutes(5));
        let claimed = {
            let client = self.pool.get().await?;
            repo::claim(&client, now, now + lease).await?
        };
        let Some(run) = claimed else {
            return Ok(false);
        };
        let outcome = if run.attempts > MAX_ATTEMPTS {
            Err(format!(
                "the run was interrupted {MAX_ATTEMPTS} times and was given up"
            ))
        } else {
            match tokio::time::timeout(self.run_limit, self.execute(&run)).await {
                Ok(Ok(result)) => Ok(result),
                Ok(Err(RunError::Storage(error))) => return Err(error),
                Ok(Err(error)) => Err(error.to_string()),
                Err(_) => Err(format!(
                    "the run exceeded its time limit of {} s",
                    self.run_limit.as_secs()
                )),
            }
        };
        if let Err(reason) = &outcome {
            tracing::warn!(run = %run.id, user = %run.user_id, reason, "backtest failed");
        }
        let client = self.pool.get().await?;
        repo::finish(
            &client,
            run.id,
            outcome.as_ref().map_err(String::as_str),
            self.clock.now(),
        )
        .await?;
        Ok(true)
    }

    async fn execute(&self, run: &Claimed) -> Result<Value, RunError> {
        let request = BacktestRequest::parse(&run.request, self.limits.max_bars)
            .map_err(|_| RunError::Invalid)?;
        let bars = self.load_bars(&request, run).await?;
        if bars.is_empty() {
            return Err(RunError::NoBars(request.symbol));
        }
        if bars.len() > self.limits.max_bars as usize {
            return Err(RunError::TooManyBars(self.limits.max_bars));
        }
        let (strategy, costs) = (request.strategy, request.costs());
        tokio::task::spawn_blocking(move || {
            let outcome = engine::run(&bars, &strategy, &costs);
            result::to_json(&bars, &outcome, costs.initial_cash)
        })
        .await
        .map_err(|_| RunError::Crashed)
    }

    /// Every bar of the range, oldest first, page by page from the cache.
    async fn load_bars(
        &self,
        request: &BacktestRequest,
        run: &Claimed,
    ) -> Result<Vec<Bar>, RunError> {
        let mut bars: Vec<Bar> = Vec::new();
        let mut after: Option<DateTime<Utc>> = None;
        let mut reported = 0.0;
        let span = (request.end - request.start).num_seconds().max(1) as f64;
        loop {
            let query = BarsQuery {
                symbol: request.symbol.clone(),
                timeframe: request.timeframe,
                adjustment: "all",
                start: request.start,
                end: request.end,
                limit: PAGE,
                after,
            };
            let deps = BarsDeps {
                pool: &self.pool,
                market_data: &self.market_data,
                feed: &self.feed,
                max_bars: self.limits.max_bars,
                now: self.clock.now(),
            };
            let page = historical_bars(deps, query).await?;
            for raw in &page.bars {
                let bar: AlpacaBar = serde_json::from_str(raw).map_err(|_| {
                    RunError::Data(DataError::Invalid(crate::input::InvalidInput::single(
                        "bars",
                        "a bar could not be read",
                    )))
                })?;
                bars.push(Bar {
                    t: bar.t.timestamp(),
                    open: bar.o,
                    high: bar.h,
                    low: bar.l,
                    close: bar.c,
                });
                after = Some(bar.t);
            }
            if bars.len() > self.limits.max_bars as usize {
                return Err(RunError::TooManyBars(self.limits.max_bars));
            }
            if page.next_page_token.is_none() {
                return Ok(bars);
            }
            let done = after.map_or(0.0, |t| (t - request.start).num_seconds() as f64 / span);
            let progress = (done * 0.9).clamp(0.0, 0.9);
            if progress - reported >= 0.05 {
                reported = progress;
                let client = self.pool.get().await.map_err(StorageError::from)?;
                repo::set_progress(&client, run.id, progress).await?;
            }
        }
    }
}

/// The fields of an Alpaca bar the engine reads.
#[derive(serde::Deserialize)]
struct AlpacaBar {
    t: DateTime<Utc>,
    o: f64,
    h: f64,
    l: f64,
    c: f64,
}

/// The backtest worker actor's arguments for this process.
pub fn worker_args(
    settings: &crate::Settings,
    pool: &Pool,
    actors: &raptor_actors::Actors,
    clock: &SharedClock,
    listen: &tokio_postgres::Config,
) -> raptor_actors::backtests::BacktestWorkerArgs {
    let jobs = BacktestJobs {
        pool: pool.clone(),
        market_data: actors.market_data.clone(),
        feed: crate::market_data::feed_key(settings),
        limits: Limits::default(),
        run_limit: RUN_LIMIT,
        clock: clock.clone(),
    };
    raptor_actors::backtests::BacktestWorkerArgs {
        executor: std::sync::Arc::new(jobs),
        listen: listen.clone(),
        concurrency: CONCURRENCY,
        tick: Duration::from_secs(30),
    }
}

/// The wall-clock limit of one run (loading its bars included).
pub const RUN_LIMIT: Duration = Duration::from_secs(120);
/// Runs one worker process carries at once.
const CONCURRENCY: usize = 2;
