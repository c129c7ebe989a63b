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

#[cfg(test)]
mod tests {
    use std::sync::Mutex;
    use std::time::Duration;

    use chrono::{DateTime, SubsecRound};

    use super::*;
    use crate::clock::SystemClock;

    /// Records every firing; the first run of the token purge fails.
    #[derive(Default)]
    struct Recorder {
        fired: Mutex<Vec<(Job, DateTime<Utc>)>>,
    }

    impl JobRunner for Recorder {
        fn run(&self, job: Job, tick: DateTime<Utc>, _now: DateTime<Utc>) -> JobFuture<'_> {
            Box::pin(async move {
                let mut fired = self.fired.lock().unwrap();
                let first = !fired.iter().any(|(j, _)| *j == job);
                fired.push((job, tick));
                if job == Job::TokenPurge && first {
                    return Err("the table is gone".into());
                }
                Ok(Fired::Ran { rows: 0 })
            })
        }
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn every_job_fires_through_the_injected_runner_and_a_failure_does_not_stop_it() {
        let every_second = Schedule::parse("* * * * * *").unwrap();
        let recorder = Arc::new(Recorder::default());
        let args = SchedulerArgs {
            runner: recorder.clone(),
            clock: Arc::new(SystemClock),
            schedules: Schedules {
                session_purge: every_second.clone(),
                token_purge: every_second.clone(),
                quarantine_purge: every_second.clone(),
                audit_retention: every_second.clone(),
                outbox_purge: every_second,
            },
        };
        let (scheduler, handle) = Actor::spawn(None, Scheduler, args).await.unwrap();
        let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
        loop {
            let fired = recorder.fired.lock().unwrap().clone();
            let all_twice = Job::ALL
                .iter()
                .all(|job| fired.iter().filter(|(j, _)| j == job).count() >= 2);
            if all_twice {
                assert!(fired.iter().all(|(_, tick)| *tick == tick.trunc_subsecs(0)));
                break;
            }
            assert!(
                tokio::time::Instant::now() < deadline,
                "not every job fired twice: {fired:?}"
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        scheduler.stop(None);
        handle.await.unwrap();
    }
}
