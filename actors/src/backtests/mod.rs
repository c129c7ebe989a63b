//! The backtest worker: claims queued backtest runs from Postgres and carries each to its end,
//! a few at a time, on worker dynos and in `raptor dev` (never on a web dyno).
//!
//! What a run is (the request, the bars, the engine, the result row) is domain knowledge in the
//! main crate (`raptor::backtest`), which implements [`RunExecutor`]; this actor only decides
//! when to try: at start, when `backtest_jobs` is notified (a run was queued), when a run ends,
//! when a run waiting out a retry's backoff becomes due, and on a slow tick (a run whose lease
//! expired on a dyno that died is claimed again). Claims are `FOR UPDATE SKIP LOCKED`, so any
//! number of workers share the queue.
//!
//! [`FinishedRuns`] is the other end: a web dyno's feed of `backtest_done` notifications, so a
//! request can wait briefly for the run it queued.

mod done;

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::time::Duration;

use ractor::{Actor, ActorProcessingErr, ActorRef};
use tokio::task::{JoinHandle, JoinSet};

pub use done::FinishedRuns;

/// Notified (payload: run id) when a run is queued.
pub const JOBS_CHANNEL: &str = "backtest_jobs";
/// Notified (payload: run id) when a run has succeeded or failed.
pub const DONE_CHANNEL: &str = "backtest_done";

/// A run could not be carried through for a reason outside it (storage); its lease expires and
/// it is claimed again.
pub type RunFailed = Box<dyn std::error::Error + Send + Sync>;
/// A step of the executor's work.
pub type RunFuture<'a, T = bool> = Pin<Box<dyn Future<Output = Result<T, RunFailed>> + Send + 'a>>;

/// What one call to [`RunExecutor::run_next`] did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Attempt {
    /// A run was claimed and carried as far as it goes now (ended, put back for a retry, or
    /// canceled).
    Ran,
    /// Nothing was claimable; `next_due` is when a run waiting out a backoff becomes due.
    Idle {
        /// When the next run waiting out a backoff becomes due, if one is.
        next_due: Option<Duration>,
    },
}

/// Runs backtests; implemented by the main crate.
pub trait RunExecutor: Send + Sync + 'static {
    /// Claims the next claimable run (queued and due, or running with an expired lease) and
    /// carries it to its end (or back to the queue for a retry), notifying [`DONE_CHANNEL`].
    fn run_next(&self) -> RunFuture<'_, Attempt>;
    /// Housekeeping on the slow tick (retention); `Ok(_)` is ignored.
    fn tidy(&self) -> RunFuture<'_>;
}

/// The executor as the worker's arguments hold it.
pub type SharedRunExecutor = Arc<dyn RunExecutor>;

/// What the backtest worker starts with.
#[derive(Clone)]
pub struct BacktestWorkerArgs {
    /// Claims and runs backtests (the main crate's).
    pub executor: SharedRunExecutor,
    /// Connection settings for LISTEN (the pool's database).
    pub listen: tokio_postgres::Config,
    /// Runs carried at once by this process.
    pub concurrency: usize,
    /// How often to look for abandoned runs and tidy up.
    pub tick: Duration,
}

/// The backtest worker's messages.
pub enum BacktestMsg {
    /// Look for runs to claim.
    Wake,
    /// One attempt ended.
    Finished(Attempt),
    /// Run the housekeeping.
    Tidy,
}

/// The backtest worker actor: carries queued runs, a bounded number at a time.
pub struct BacktestWorker;

/// The worker's state: the runs in flight, the listener and the ticker.
pub struct WorkerState {
    args: BacktestWorkerArgs,
    tasks: JoinSet<()>,
    in_flight: usize,
    listener: JoinHandle<()>,
    ticker: JoinHandle<()>,
    /// The wake-up scheduled for the next run due after a backoff.
    alarm: Option<(tokio::time::Instant, JoinHandle<()>)>,
}

impl Actor for BacktestWorker {
    type Msg = BacktestMsg;
    type State = WorkerState;
    type Arguments = BacktestWorkerArgs;

    async fn pre_start(
        &self,
        myself: ActorRef<BacktestMsg>,
        args: BacktestWorkerArgs,
    ) -> Result<WorkerState, ActorProcessingErr> {
        let me = myself.clone();
        let listener = crate::pg::listen::spawn(args.listen.clone(), JOBS_CHANNEL, move |_| {
            me.cast(BacktestMsg::Wake).is_ok()
        });
        let me = myself.clone();
        let tick = args.tick;
        let ticker = tokio::spawn(async move {
            let mut interval = tokio::time::interval(tick);
            loop {
                interval.tick().await;
                if me.cast(BacktestMsg::Tidy).is_err() || me.cast(BacktestMsg::Wake).is_err() {
                    return;
                }
            }
        });
        Ok(WorkerState {
            args,
            tasks: JoinSet::new(),
            in_flight: 0,
            listener,
            ticker,
            alarm: None,
        })
    }

    async fn handle(
        &self,
        myself: ActorRef<BacktestMsg>,
        msg: BacktestMsg,
        state: &mut WorkerState,
    ) -> Result<(), ActorProcessingErr> {
        match msg {
            BacktestMsg::Wake => {
                while state.in_flight < state.args.concurrency.max(1) {
                    state.in_flight += 1;
                    let executor = state.args.executor.clone();
                    let me = myself.clone();
                    state.tasks.spawn(async move {
                        let attempt = match executor.run_next().await {
                            Ok(attempt) => attempt,
                            Err(error) => {
                                tracing::error!(%error, "backtest run could not be carried");
                                Attempt::Idle { next_due: None }
                            }
                        };
                        let _ = me.cast(BacktestMsg::Finished(attempt));
                    });
                }
            }
            BacktestMsg::Finished(attempt) => {
                state.in_flight = state.in_flight.saturating_sub(1);
                while state.tasks.try_join_next().is_some() {}
                match attempt {
                    Attempt::Ran => myself.cast(BacktestMsg::Wake)?,
                    Attempt::Idle {
                        next_due: Some(due),
                    } => set_alarm(&myself, state, due),
                    Attempt::Idle { next_due: None } => {}
                }
            }
            BacktestMsg::Tidy => {
                let executor = state.args.executor.clone();
                state.tasks.spawn(async move {
                    if let Err(error) = executor.tidy().await {
                        tracing::warn!(%error, "backtest housekeeping failed");
                    }
                });
            }
        }
        Ok(())
    }

    async fn post_stop(
        &self,
        _: ActorRef<BacktestMsg>,
        state: &mut WorkerState,
    ) -> Result<(), ActorProcessingErr> {
        // A run cut short here keeps its lease; another worker claims it once that expires.
        state.listener.abort();
        state.ticker.abort();
        if let Some((_, alarm)) = state.alarm.take() {
            alarm.abort();
        }
        state.tasks.abort_all();
        Ok(())
    }
}

/// Wakes the worker after `due`, unless an earlier wake-up is already set.
fn set_alarm(myself: &ActorRef<BacktestMsg>, state: &mut WorkerState, due: Duration) {
    let at = tokio::time::Instant::now() + due;
    if let Some((set, handle)) = &state.alarm {
        if *set <= at && !handle.is_finished() {
            return;
        }
    }
    let me = myself.clone();
    let handle = tokio::spawn(async move {
        tokio::time::sleep_until(at).await;
        let _ = me.cast(BacktestMsg::Wake);
    });
    if let Some((_, old)) = state.alarm.replace((at, handle)) {
        old.abort();
    }
}
