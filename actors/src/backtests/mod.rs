//! The backtest worker: claims queued backtest runs from Postgres and carries each to its end,
//! a few at a time, on worker dynos and in `raptor dev` (never on a web dyno).
//!
//! What a run is (the request, the bars, the engine, the result row) is domain knowledge in the
//! main crate (`raptor::backtest`), which implements [`RunExecutor`]; this actor only decides
//! when to try: at start, when `backtest_jobs` is notified (a run was queued), when a run ends,
//! and on a slow tick (a run whose lease expired on a dyno that died is claimed again). Claims
//! are `FOR UPDATE SKIP LOCKED`, so any number of workers share the queue.
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
/// `Ok(true)`: a run was claimed and carried to its end; `Ok(false)`: none was waiting.
pub type RunFuture<'a> = Pin<Box<dyn Future<Output = Result<bool, RunFailed>> + Send + 'a>>;

/// Runs backtests; implemented by the main crate.
pub trait RunExecutor: Send + Sync + 'static {
    /// Claims the oldest claimable run (queued, or running with an expired lease) and carries
    /// it to `succeeded` or `failed`, notifying [`DONE_CHANNEL`].
    fn run_next(&self) -> RunFuture<'_>;
    /// Housekeeping on the slow tick (retention); `Ok(_)` is ignored.
    fn tidy(&self) -> RunFuture<'_>;
}

pub type SharedRunExecutor = Arc<dyn RunExecutor>;

#[derive(Clone)]
pub struct BacktestWorkerArgs {
    pub executor: SharedRunExecutor,
    /// Connection settings for LISTEN (the pool's database).
    pub listen: tokio_postgres::Config,
    /// Runs carried at once by this process.
    pub concurrency: usize,
    /// How often to look for abandoned runs and tidy up.
    pub tick: Duration,
}

pub enum BacktestMsg {
    /// Look for runs to claim.
    Wake,
    /// One attempt ended; `ran` when it carried a run.
    Finished { ran: bool },
    /// Run the housekeeping.
    Tidy,
}

pub struct BacktestWorker;

pub struct WorkerState {
    args: BacktestWorkerArgs,
    tasks: JoinSet<()>,
    in_flight: usize,
    listener: JoinHandle<()>,
    ticker: JoinHandle<()>,
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
                        let ran = match executor.run_next().await {
                            Ok(ran) => ran,
                            Err(error) => {
                                tracing::error!(%error, "backtest run could not be carried");
                                false
                            }
                        };
                        let _ = me.cast(BacktestMsg::Finished { ran });
                    });
                }
            }
            BacktestMsg::Finished { ran } => {
                state.in_flight = state.in_flight.saturating_sub(1);
                while state.tasks.try_join_next().is_some() {}
                if ran {
                    myself.cast(BacktestMsg::Wake)?;
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
        state.tasks.abort_all();
        Ok(())
    }
}
