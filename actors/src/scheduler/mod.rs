//! The scheduler (worker dyno): fires the retention and purge jobs on their cron schedules.
//!
//! It owns a tokio-cron-scheduler instance with one cron job per [`Job`]. A firing computes its
//! tick from the schedule and hands the job to the injected [`JobRunner`] (the main crate's
//! `raptor::retention`, which takes the job's advisory lock and records the tick, so with several
//! worker dynos each tick runs once). Within one process the jobs run one at a time: a run needs
//! pooled connections, and taking them one job at a time can never exhaust the pool. A failed run
//! is logged and simply tried again at the job's next tick; the other jobs are not affected.

pub mod job;
pub mod schedule;

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use chrono::Utc;
use ractor::{Actor, ActorProcessingErr, ActorRef};
use tokio::sync::Semaphore;
use tokio_cron_scheduler::JobScheduler;

use crate::clock::SharedClock;
pub use job::{Fired, Job, JobFailed, JobFuture, JobRunner, SharedJobRunner};
pub use schedule::{InvalidSchedule, Schedule, Schedules};

pub enum SchedulerMsg {}

pub struct Scheduler;

pub struct SchedulerArgs {
    /// What a firing runs (the main crate's retention jobs).
    pub runner: SharedJobRunner,
    /// Limits (30 days, 7 years…) are measured from this clock; ticks follow the wall clock.
    pub clock: SharedClock,
    pub schedules: Schedules,
}

pub struct SchedulerState {
    cron: CronGuard,
}

/// Stops the cron instance when the actor's state goes away, however it goes: its tasks are
/// the library's, so a failed actor must not leave them firing beside its successor.
struct CronGuard {
    cron: JobScheduler,
    alive: Arc<AtomicBool>,
}

impl Drop for CronGuard {
    fn drop(&mut self) {
        self.alive.store(false, Ordering::SeqCst);
        let mut cron = self.cron.clone();
        if let Ok(runtime) = tokio::runtime::Handle::try_current() {
            runtime.spawn(async move {
                let _ = cron.shutdown().await;
            });
        }
    }
}

/// What every firing needs.
#[derive(Clone)]
struct Firing {
    runner: SharedJobRunner,
    clock: SharedClock,
    one_at_a_time: Arc<Semaphore>,
    alive: Arc<AtomicBool>,
}

impl Actor for Scheduler {
    type Msg = SchedulerMsg;
    type State = SchedulerState;
    type Arguments = SchedulerArgs;

    async fn pre_start(
        &self,
        _: ActorRef<SchedulerMsg>,
        args: SchedulerArgs,
    ) -> Result<SchedulerState, ActorProcessingErr> {
        let cron = JobScheduler::new().await?;
        let guard = CronGuard {
            cron,
            alive: Arc::new(AtomicBool::new(true)),
        };
        let firing = Firing {
            runner: args.runner,
            clock: args.clock,
            one_at_a_time: Arc::new(Semaphore::new(1)),
            alive: guard.alive.clone(),
        };
        for job in Job::ALL {
            let schedule = args.schedules.of(job).clone();
            let firing = firing.clone();
            let pattern = schedule.as_str().to_owned();
            let task = tokio_cron_scheduler::Job::new_async(pattern.as_str(), move |_, _| {
                let (firing, schedule) = (firing.clone(), schedule.clone());
                Box::pin(async move { firing.fire(job, &schedule).await })
            })?;
            guard.cron.add(task).await?;
            tracing::info!(job = job.name(), schedule = %pattern, "job scheduled");
        }
        guard.cron.start().await?;
        Ok(SchedulerState { cron: guard })
    }

    async fn post_stop(
        &self,
        _: ActorRef<SchedulerMsg>,
        state: &mut SchedulerState,
    ) -> Result<(), ActorProcessingErr> {
        state.cron.alive.store(false, Ordering::SeqCst);
        let _ = state.cron.cron.shutdown().await;
        Ok(())
    }
}

impl Firing {
    async fn fire(&self, job: Job, schedule: &Schedule) {
        let tick = schedule.tick_at(Utc::now());
        let Ok(_permit) = self.one_at_a_time.acquire().await else {
            return;
        };
        if !self.alive.load(Ordering::SeqCst) {
            return;
        }
        match self.runner.run(job, tick, self.clock.now()).await {
            Ok(Fired::Ran { rows }) => {
                tracing::info!(job = job.name(), %tick, rows, "job ran");
            }
            Ok(Fired::Busy) => {
                tracing::debug!(job = job.name(), %tick, "job is running on another worker");
            }
            Ok(Fired::AlreadyRan) => {
                tracing::debug!(job = job.name(), %tick, "tick already ran");
            }
            Err(error) => {
                tracing::error!(job = job.name(), %tick, %error, "job failed; it runs again at its next tick");
            }
        }
    }
}
