//! `raptor retention report`: row counts per table, the oldest row's age, and the rows past
//! their retention limit that no job has removed yet, so an operator can see the policy holding
//! (SPEC §5). The counts and rules are `crate::retention`'s, the same the worker's jobs apply.

use crate::retention::{self, Job};
use anyhow::Context;
use chrono::{DateTime, Utc};

use super::CliContext;

#[derive(clap::Subcommand)]
pub enum Command {
    /// Print rows, oldest row's age and rows past their limit per table, and each job's last run.
    Report,
}

pub async fn run(command: Command, ctx: &CliContext) -> anyhow::Result<()> {
    let Command::Report = command;
    let client = ctx.pool.get().await.context("cannot reach the database")?;
    let now = Utc::now();
    let lines = retention::report(&client, now).await?;
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
    let runs = retention::last_runs(&client).await?;
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
