//! `raptor retention report`: row counts per table, the oldest row's age, and the rows past
//! their retention limit that no job has removed yet, so an operator can see the policy holding
//! (SPEC §5). `raptor retention run [JOB]`: runs one job (or every job) once, now, exactly as a
//! worker's tick would (same lock, same claim, same rules). The counts and rules are
//! `crate::retention`'s, the same the worker's jobs apply.

use crate::retention::{self, Job};
use anyhow::Context;
use chrono::{DateTime, Utc};

use super::CliContext;

#[derive(clap::Subcommand)]
pub enum Command {
    /// Print rows, oldest row's age and rows past their limit per table, and each job's last run.
    Report,
    /// Run a retention job (every job when none is named) once, now.
    Run {
        /// session_purge, token_purge, quarantine_purge, audit_retention or outbox_purge.
        #[arg(value_parser = parse_job)]
        job: Option<Job>,
    },
}

pub async fn run(command: Command, ctx: &CliContext) -> anyhow::Result<()> {
    match command {
        Command::Report => report(ctx).await,
        Command::Run { job } => {
            let jobs = job.map_or(Job::ALL.to_vec(), |job| vec![job]);
            for job in jobs {
                run_now(ctx, job).await?;
            }
            Ok(())
        }
    }
}

/// Runs `job` for a tick of its own (now), and prints what it removed.
async fn run_now(ctx: &CliContext, job: Job) -> anyhow::Result<()> {
    let now = Utc::now();
    let outcome = retention::run(&ctx.pool, job, now, now)
        .await
        .with_context(|| format!("{} failed", job.name()))?;
    match outcome {
        retention::Outcome::Ran(removed) => {
            let tables: Vec<String> = removed
                .iter()
                .map(|r| format!("{} {}", r.table, r.rows))
                .collect();
            println!(
                "{}: removed {} rows ({})",
                job.name(),
                removed.iter().map(|r| r.rows).sum::<u64>(),
                tables.join(", ")
            );
        }
        retention::Outcome::Busy => {
            println!("{}: a worker is running it right now; skipped", job.name())
        }
        retention::Outcome::AlreadyRan => println!("{}: already ran this instant", job.name()),
    }
    Ok(())
}

fn parse_job(raw: &str) -> Result<Job, String> {
    Job::ALL
        .into_iter()
        .find(|job| job.name() == raw)
        .ok_or_else(|| {
            let names: Vec<&str> = Job::ALL.iter().map(|j| j.name()).collect();
            format!("{raw:?} is not a job: one of {}", names.join(", "))
        })
}

async fn report(ctx: &CliContext) -> anyhow::Result<()> {
    let now = Utc::now();
    let overview = retention::overview(&ctx.pool, now)
        .await
        .context("cannot read the database")?;
    let (lines, runs) = (overview.tables, overview.runs);
    println!(
        "{:<22} {:>10} {:>12} {:>10}  rule",
        "table", "rows", "oldest", "past limit"
    );
    for line in &lines {
        println!(
            "{:<22} {:>10} {:>12} {:>10}  {}",
            line.table,
            line.rows,
            line.oldest.map_or_else(|| "-".to_owned(), |t| age(now, t)),
            line.due,
            line.rule
        );
    }
    println!();
    println!("{:<22} {:>25} {:>10}", "job", "last tick", "rows");
    for job in Job::ALL {
        match runs.iter().find(|run| run.job == job.name()) {
            Some(run) => println!(
                "{:<22} {:>25} {:>10}",
                job.name(),
                run.tick.format("%Y-%m-%d %H:%M:%S UTC"),
                run.rows_removed
            ),
            None => println!("{:<22} {:>25} {:>10}", job.name(), "never", "-"),
        }
    }
    Ok(())
}

/// `3y45d`, `12d4h`, `5h20m`, `42s`: coarse enough to read at a glance.
fn age(now: DateTime<Utc>, then: DateTime<Utc>) -> String {
    let d = now - then;
    let (days, hours, minutes) = (d.num_days(), d.num_hours() % 24, d.num_minutes() % 60);
    if days >= 365 {
        format!("{}y{}d", days / 365, days % 365)
    } else if days > 0 {
        format!("{days}d{hours}h")
    } else if d.num_hours() > 0 {
        format!("{hours}h{minutes}m")
    } else {
        format!("{}s", d.num_seconds().max(0))
    }
}
