//! The scheduler (worker dyno): fires the jobs it is given on their cron schedules.
//!
//! It owns a tokio-cron-scheduler instance with one cron job per [`ScheduledJob`], a list the
//! main crate builds (`raptor::retention::scheduled`). A firing computes its tick from the
//! schedule and hands it to the job's [`JobRunner`] (for the retention jobs, one that takes the
//! job's advisory lock and records the tick, so with several worker dynos each tick runs once). Within one process the jobs run one at a time: a run needs
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
pub use job::{Fired, JobFailed, JobFuture, JobRunner, ScheduledJob, SharedJobRunner};
pub use schedule::{InvalidSchedule, Schedule};

/// The scheduler takes no messages: it only fires its jobs.
pub enum SchedulerMsg {}

/// The scheduler actor.
pub struct Scheduler;

/// What the scheduler starts with.
pub struct SchedulerArgs {
    /// The jobs to fire (the main crate's list).
    pub jobs: Vec<ScheduledJob>,
    /// Limits (30 days, 7 years…) are measured from this clock; ticks follow the wall clock.
    pub clock: SharedClock,
}

/// The scheduler's state: the cron instance, stopped when the state is dropped.
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
            clock: args.clock,
            one_at_a_time: Arc::new(Semaphore::new(1)),
            alive: guard.alive.clone(),
        };
        for job in args.jobs {
            let firing = firing.clone();
            let pattern = job.schedule.as_str().to_owned();
            let name = job.name;
            let task = tokio_cron_scheduler::Job::new_async(pattern.as_str(), move |_, _| {
                let (firing, job) = (firing.clone(), job.clone());
                Box::pin(async move { firing.fire(&job).await })
            })?;
            guard.cron.add(task).await?;
            tracing::info!(job = name, schedule = %pattern, "job scheduled");
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
    async fn fire(&self, job: &ScheduledJob) {
        let tick = job.schedule.tick_at(Utc::now());
        let Ok(_permit) = self.one_at_a_time.acquire().await else {
            return;
        };
        if !self.alive.load(Ordering::SeqCst) {
            return;
        }
        match job.runner.run(tick, self.clock.now()).await {
            Ok(Fired::Ran { rows }) => {
                tracing::info!(job = job.name, %tick, rows, "job ran");
            }
            Ok(Fired::Busy) => {
                tracing::debug!(job = job.name, %tick, "job is running on another worker");
            }
            Ok(Fired::AlreadyRan) => {
                tracing::debug!(job = job.name, %tick, "tick already ran");
            }
            Err(error) => {
                tracing::error!(job = job.name, %tick, %error, "job failed; it runs again at its next tick");
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

    const JOBS: [&str; 5] = [
        "session_purge",
        "token_purge",
        "quarantine_purge",
        "audit_retention",
        "outbox_purge",
    ];

    /// Every firing of every job, in order.
    type Log = Arc<Mutex<Vec<(&'static str, DateTime<Utc>)>>>;

    /// Records its job's firings; the first run of the token purge fails.
    struct Recorder {
        job: &'static str,
        fired: Log,
    }

    impl JobRunner for Recorder {
        fn run(&self, tick: DateTime<Utc>, _now: DateTime<Utc>) -> JobFuture<'_> {
            Box::pin(async move {
                let mut fired = self.fired.lock().unwrap();
                let first = !fired.iter().any(|(j, _)| *j == self.job);
                fired.push((self.job, tick));
                if self.job == "token_purge" && first {
                    return Err("the table is gone".into());
                }
                Ok(Fired::Ran { rows: 0 })
            })
        }
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn every_job_fires_through_the_injected_runner_and_a_failure_does_not_stop_it() {
        let every_second = Schedule::parse("* * * * * *").unwrap();
        let log = Log::default();
        let jobs = JOBS
            .into_iter()
            .map(|job| ScheduledJob {
                name: job,
                schedule: every_second.clone(),
                runner: Arc::new(Recorder {
                    job,
                    fired: log.clone(),
                }),
            })
            .collect();
        let args = SchedulerArgs {
            jobs,
            clock: Arc::new(SystemClock),
        };
        let (scheduler, handle) = Actor::spawn(None, Scheduler, args).await.unwrap();
        let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
        loop {
            let fired = log.lock().unwrap().clone();
            let all_twice = JOBS
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
