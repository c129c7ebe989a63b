//! What the scheduler fires: a list of [`ScheduledJob`]s, each a name, a [`Schedule`] and the
//! [`JobRunner`] that knows what the job does.
//!
//! Which jobs exist, what they remove, and how a run is made safe across several workers is
//! domain knowledge that lives in the main crate (`raptor::retention` builds the list); this
//! crate only fires jobs on time. The main crate passes the list in the supervisor's arguments,
//! so the dependency points one way: `raptor` → `raptor-actors`.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;

use chrono::{DateTime, Utc};

use super::schedule::Schedule;

/// One job to fire on its schedule.
#[derive(Clone)]
pub struct ScheduledJob {
    /// The job's name in logs.
    pub name: &'static str,
    /// When it fires.
    pub schedule: Schedule,
    /// What a firing runs.
    pub runner: SharedJobRunner,
}

/// What one firing did, as far as the scheduler's log needs to know.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Fired {
    /// This firing ran the job for its tick and removed `rows` rows.
    Ran {
        /// Rows the run removed.
        rows: u64,
    },
    /// Another worker is running the job right now.
    Busy,
    /// The tick was already run (here or by another worker).
    AlreadyRan,
}

/// A run failed; the scheduler logs it and the job runs again at its next tick.
pub type JobFailed = Box<dyn std::error::Error + Send + Sync>;

/// A run in progress, as [`JobRunner::run`] returns it.
pub type JobFuture<'a> = Pin<Box<dyn Future<Output = Result<Fired, JobFailed>> + Send + 'a>>;

/// Runs one job for one tick; implemented by the main crate (its retention jobs).
pub trait JobRunner: Send + Sync + 'static {
    /// Runs the job for the scheduled instant `tick`, measuring retention limits from `now`
    /// (the injected clock). Must be safe to call from several workers for the same tick.
    fn run(&self, tick: DateTime<Utc>, now: DateTime<Utc>) -> JobFuture<'_>;
}

/// A runner as a [`ScheduledJob`] holds it.
pub type SharedJobRunner = Arc<dyn JobRunner>;
