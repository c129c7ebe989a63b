//! The worker job of a backtest run or sweep, as the backtest worker actor
//! (`raptor_actors::backtests`) drives it: claim a job fairly ([`super::queue`]), read its bars
//! through the historical-bars machinery (the Postgres cache, missing ranges fetched from
//! Alpaca under the shared outbound budget) once, run the engine on the blocking pool (once,
//! or once per combination of a sweep), and record the outcome.
//!
//! - Cancel: while a job runs, a watcher reads its status every [`WATCH`]; once it is no
//!   longer `running` (canceled, or deleted with its account) the job stops (a sweep between
//!   two combinations) and nothing is recorded over the cancel.
//! - Retries: a transient failure (Alpaca rate limit, 5xx, timeout or unreachable, the
//!   market-data actor down, a lost database connection) puts the job back in the queue after
//!   a backoff of [`BACKOFF`] × 2^(attempt − 1); the [`MAX_ATTEMPTS`]th failure fails it. Its
//!   `attempts` and `last_error` show on the run.
//! - Bounds: a run spanning more than the bar cap fails; so does one exceeding the wall-clock
//!   limit; a job whose lease expired [`MAX_ATTEMPTS`] times (its dyno died each time) fails
//!   rather than taking a worker down again.

use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, Utc};
use deadpool_postgres::Pool;
use raptor_actors::backtests::{Attempt, RunExecutor, RunFailed, RunFuture};
use raptor_actors::clock::SharedClock;
use raptor_actors::market_data::{MarketDataClient, MarketDataError};
use serde_json::Value;

use super::engine::Bar;
use super::queue::{self, Claimed};
use super::repo::Kind;
use super::runs::Limits;
use super::sweep::{self, Progress, SweepRequest};
use super::{engine, result, BacktestRequest};
use crate::db::StorageError;
use crate::market_data::bars::{historical_bars, BarsDeps};
use crate::market_data::{BarsQuery, DataError};

/// Attempts a job may take before it is failed.
pub const MAX_ATTEMPTS: i32 = 3;
/// The backoff before the second attempt; doubled before each later one.
pub const BACKOFF: Duration = Duration::from_secs(1);
/// How often a running job's status is read (a cancel stops it within this).
pub const WATCH: Duration = Duration::from_millis(200);
/// Runs are kept this long.
pub const RETENTION_DAYS: i64 = 90;
/// Bars read from the cache per page.
const PAGE: u32 = 10_000;

/// Why a job failed, in words its owner reads as `reason`.
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
    /// Its detail goes to the log only.
    #[error("a database error")]
    Storage(#[from] StorageError),
}

impl RunError {
    /// Whether trying again later may succeed.
    fn transient(&self) -> bool {
        match self {
            RunError::Storage(e) => e.is_unavailable(),
            RunError::Data(DataError::Unavailable(_)) => true,
            RunError::Data(DataError::Provider(e)) => matches!(
                e,
                MarketDataError::RateLimited { .. }
                    | MarketDataError::Timeout
                    | MarketDataError::Unreachable
                    | MarketDataError::BadGateway
            ),
            _ => false,
        }
    }
}

impl From<DataError> for RunError {
    fn from(error: DataError) -> Self {
        match error {
            DataError::Storage(e) => RunError::Storage(e),
            other => RunError::Data(other),
        }
    }
}

/// How a job ended this time.
enum Ended {
    Done(Result<Value, RunError>),
    TimedOut,
    Canceled,
}

/// Everything a job needs; the worker actor holds it as its [`RunExecutor`].
pub struct BacktestJobs {
    pub pool: Pool,
    pub market_data: MarketDataClient,
    /// The bar cache key of the data source (`iex`, `sip`, `synthetic`).
    pub feed: String,
    pub limits: Limits,
    /// The wall-clock limit of one job.
    pub run_limit: Duration,
    pub clock: SharedClock,
}

impl RunExecutor for BacktestJobs {
    fn run_next(&self) -> RunFuture<'_, Attempt> {
        Box::pin(async move { self.run_next().await.map_err(|e| Box::new(e) as RunFailed) })
    }

    fn tidy(&self) -> RunFuture<'_> {
        Box::pin(async move {
            let before = self.clock.now() - chrono::Duration::days(RETENTION_DAYS);
            let client = self.pool.get().await.map_err(StorageError::from)?;
            let removed = queue::purge(&client, before).await?;
            if removed > 0 {
                tracing::info!(removed, "old backtest runs removed");
            }
            Ok(removed > 0)
        })
    }
}

impl BacktestJobs {
    async fn run_next(&self) -> Result<Attempt, StorageError> {
        let now = self.clock.now();
        let lease = chrono::Duration::from_std(self.run_limit + Duration::from_secs(30))
            .unwrap_or_else(|_| chrono::Duration::minutes(5));
        let client = self.pool.get().await?;
        let Some(run) = queue::claim(&client, now, now + lease).await? else {
            let due = queue::next_due(&client, now).await?;
            let next_due = due.map(|at| (at - now).to_std().unwrap_or_default());
            return Ok(Attempt::Idle { next_due });
        };
        drop(client);
        if run.attempts > MAX_ATTEMPTS {
            let reason = format!("the run was interrupted {MAX_ATTEMPTS} times and was given up");
            self.record(&run, Err(reason)).await?;
            return Ok(Attempt::Ran);
        }
        let progress = Arc::new(Progress::default());
        let ended = tokio::select! {
            done = tokio::time::timeout(self.run_limit, self.execute(&run, &progress)) => {
                done.map_or(Ended::TimedOut, Ended::Done)
            }
            () = self.watch(&run, &progress) => Ended::Canceled,
        };
        match ended {
            Ended::Canceled => tracing::info!(run = %run.id, "backtest canceled"),
            Ended::TimedOut => {
                let limit = self.run_limit.as_secs();
                let reason = format!("the run exceeded its time limit of {limit} s");
                self.record(&run, Err(reason)).await?;
            }
            Ended::Done(Ok(result)) => self.record(&run, Ok(result)).await?,
            Ended::Done(Err(error)) => self.failed(&run, error).await?,
        }
        Ok(Attempt::Ran)
    }

    /// A failed attempt: back to the queue after a backoff if it may pass later, else failed.
    async fn failed(&self, run: &Claimed, error: RunError) -> Result<(), StorageError> {
        let reason = error.to_string();
        tracing::warn!(run = %run.id, user = %run.user_id, attempt = run.attempts, ?error, "backtest attempt failed");
        if !error.transient() {
            return self.record(run, Err(reason)).await;
        }
        if run.attempts >= MAX_ATTEMPTS {
            let reason = format!("failed after {MAX_ATTEMPTS} attempts: {reason}");
            return self.record(run, Err(reason)).await;
        }
        let backoff = BACKOFF * 2u32.pow((run.attempts.max(1) - 1) as u32);
        let at = self.clock.now() + chrono::Duration::from_std(backoff).unwrap_or_default();
        let client = self.pool.get().await?;
        queue::retry(&client, run.id, &reason, at).await
    }

    async fn record(
        &self,
        run: &Claimed,
        outcome: Result<Value, String>,
    ) -> Result<(), StorageError> {
        if let Err(reason) = &outcome {
            tracing::warn!(run = %run.id, user = %run.user_id, reason, "backtest failed");
        }
        let client = self.pool.get().await?;
        let outcome = outcome.as_ref().map_err(String::as_str);
        queue::finish(&client, run.id, outcome, self.clock.now()).await
    }

    /// Returns once the job is no longer ours (canceled or deleted), after telling the
    /// computation to stop; meanwhile reports a sweep's progress.
    async fn watch(&self, run: &Claimed, progress: &Progress) {
        let mut reported = 0;
        loop {
            tokio::time::sleep(WATCH).await;
            let Ok(client) = self.pool.get().await else {
                continue;
            };
            if let Ok(false) = queue::still_running(&client, run.id).await {
                progress.cancel();
                return;
            }
            let (done, total) = (progress.done(), progress.total());
            if total > 0 && done > reported {
                reported = done;
                let share = 0.1 + 0.9 * done as f64 / total as f64;
                let _ = queue::set_progress(&client, run.id, share.min(0.99)).await;
            }
        }
    }

    async fn execute(&self, run: &Claimed, progress: &Arc<Progress>) -> Result<Value, RunError> {
        match run.kind {
            Kind::Run => self.execute_run(run).await,
            Kind::Sweep => self.execute_sweep(run, progress.clone()).await,
        }
    }

    async fn execute_run(&self, run: &Claimed) -> Result<Value, RunError> {
        let request = BacktestRequest::parse(&run.request, self.limits.max_bars)
            .map_err(|_| RunError::Invalid)?;
        let bars = self.bars(&request, run, 0.9).await?;
        let (strategy, costs) = (request.strategy, request.costs());
        tokio::task::spawn_blocking(move || {
            let outcome = engine::run(&bars, &strategy, &costs);
            result::to_json(&bars, &outcome, costs.initial_cash)
        })
        .await
        .map_err(|_| RunError::Crashed)
    }

    async fn execute_sweep(
        &self,
        run: &Claimed,
        progress: Arc<Progress>,
    ) -> Result<Value, RunError> {
        let sweep = SweepRequest::parse(&run.request, self.limits.max_bars)
            .map_err(|_| RunError::Invalid)?;
        let bars = self.bars(&sweep.base, run, 0.1).await?;
        progress.set_total(sweep.combinations.len());
        tokio::task::spawn_blocking(move || {
            let metrics = sweep::evaluate(&bars, &sweep.combinations, &progress)?;
            Some(sweep::to_json(bars.len(), &sweep, &metrics))
        })
        .await
        .map_err(|_| RunError::Crashed)?
        .ok_or(RunError::Crashed)
    }

    /// The request's bars, checked against the cap; loading reports progress up to `share`.
    async fn bars(
        &self,
        request: &BacktestRequest,
        run: &Claimed,
        share: f64,
    ) -> Result<Vec<Bar>, RunError> {
        let bars = self.load_bars(request, run, share).await?;
        if bars.is_empty() {
            return Err(RunError::NoBars(request.symbol.clone()));
        }
        if bars.len() > self.limits.max_bars as usize {
            return Err(RunError::TooManyBars(self.limits.max_bars));
        }
        Ok(bars)
    }

    /// Every bar of the range, oldest first, page by page from the cache.
    async fn load_bars(
        &self,
        request: &BacktestRequest,
        run: &Claimed,
        share: f64,
    ) -> Result<Vec<Bar>, RunError> {
        let mut bars: Vec<Bar> = Vec::new();
        let mut after: Option<DateTime<Utc>> = None;
        let mut reported = 0.0;
        let span = (request.end - request.start).num_seconds().max(1) as f64;
        loop {
            let page = historical_bars(self.bars_deps(), self.query(request, after)).await?;
            for raw in &page.bars {
                let bar = parse_bar(raw)?;
                after = Some(bar.0);
                bars.push(bar.1);
            }
            if bars.len() > self.limits.max_bars as usize {
                return Err(RunError::TooManyBars(self.limits.max_bars));
            }
            if page.next_page_token.is_none() {
                return Ok(bars);
            }
            let done = after.map_or(0.0, |t| (t - request.start).num_seconds() as f64 / span);
            let progress = (done * share).clamp(0.0, share);
            if progress - reported >= 0.05 {
                reported = progress;
                let client = self.pool.get().await.map_err(StorageError::from)?;
                queue::set_progress(&client, run.id, progress).await?;
            }
        }
    }

    fn bars_deps(&self) -> BarsDeps<'_> {
        BarsDeps {
            pool: &self.pool,
            market_data: &self.market_data,
            feed: &self.feed,
            max_bars: self.limits.max_bars,
            now: self.clock.now(),
        }
    }

    fn query(&self, request: &BacktestRequest, after: Option<DateTime<Utc>>) -> BarsQuery {
        BarsQuery {
            symbol: request.symbol.clone(),
            timeframe: request.timeframe,
            adjustment: "all",
            start: request.start,
            end: request.end,
            limit: PAGE,
            after,
        }
    }
}

/// An Alpaca bar as the engine reads it, with its start time.
fn parse_bar(raw: &str) -> Result<(DateTime<Utc>, Bar), RunError> {
    let bar: AlpacaBar = serde_json::from_str(raw).map_err(|_| {
        RunError::Data(DataError::Invalid(crate::input::InvalidInput::single(
            "bars",
            "a bar could not be read",
        )))
    })?;
    let engine_bar = Bar {
        t: bar.t.timestamp(),
        open: bar.o,
        high: bar.h,
        low: bar.l,
        close: bar.c,
    };
    Ok((bar.t, engine_bar))
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

/// The backtest worker actor's arguments for this process; its runs read bars cached under
/// `feed` (the market-data source's).
pub fn worker_args(
    feed: String,
    pool: &Pool,
    actors: &raptor_actors::Actors,
    clock: &SharedClock,
    listen: &tokio_postgres::Config,
) -> raptor_actors::backtests::BacktestWorkerArgs {
    let jobs = BacktestJobs {
        pool: pool.clone(),
        market_data: actors.market_data.clone(),
        feed,
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
