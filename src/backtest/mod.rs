//! Backtests (SPEC §6): run a strategy over a symbol's historical bars and report its trades,
//! equity curve and metrics, agreeing with backtrader on the same bars and rules.
//!
//! - The engine ([`engine::run`], with [`strategy`] and [`metrics`]) is pure: bars in, outcome
//!   out. It computes in f64 internally, in backtrader's order of operations so results match
//!   it to the last bit; money and prices leave the API as decimal strings ([`result`]).
//! - Sweeps ([`sweep`]) run a grid of variations of one request over the same bars and rank
//!   them by a metric.
//! - Runs and sweeps are durable jobs in Postgres ([`repo`], [`queue`]). Use cases:
//!   [`runs::submit_run`], [`runs::submit_sweep`], [`jobs::get`], [`jobs::list`],
//!   [`jobs::cancel`], [`chart::equity_svg`] (HTTP), and the worker job
//!   ([`worker::BacktestJobs`]) the backtest worker actor drives on worker dynos.
//!
//! See `docs/backtests.md` for the execution model and the metric definitions.

pub mod chart;
pub mod engine;
mod fsum;
pub mod jobs;
pub mod metrics;
mod queue;
pub mod repo;
pub mod request;
pub mod result;
pub mod runs;
pub mod series;
pub mod strategy;
pub mod sweep;
pub mod worker;

use std::time::Duration;

use raptor_actors::audit::AppendError;

pub use engine::{run, Bar, Costs, Outcome, Trade};
pub use metrics::Metrics;
pub use request::BacktestRequest;
pub use strategy::Strategy;

use crate::db::StorageError;
use crate::input::InvalidInput;

/// Why a backtest use case failed, in backtest words.
#[derive(Debug, thiserror::Error)]
pub enum BacktestError {
    #[error(transparent)]
    Invalid(#[from] InvalidInput),
    /// The caller is over a concurrency or daily limit.
    #[error("{why}")]
    TooMany { why: String, retry_after: Duration },
    #[error("no such backtest")]
    NotFound,
    /// Cancelling a job that has already ended (its status).
    #[error("the backtest has already ended ({0})")]
    AlreadyFinished(String),
    /// Asking for what only a succeeded run has (its status).
    #[error("the backtest has not succeeded ({0})")]
    NotFinished(String),
    #[error(transparent)]
    Audit(#[from] AppendError),
    #[error(transparent)]
    Storage(#[from] StorageError),
}

#[cfg(test)]
mod golden;
