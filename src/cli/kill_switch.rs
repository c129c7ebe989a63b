//! `raptor kill-switch engage|release --reason TEXT` and `raptor kill-switch status`: the
//! operator's kill switch from a one-off dyno (`heroku run raptor kill-switch engage …`).
//!
//! The change is stored with a notification that every web dyno's broker listens for, so
//! trading stops (or resumes) everywhere within a second, and it is audited as
//! `kill_switch.engage` or `kill_switch.release` with source `cli` in the same transaction.
//! Releasing the operator's switch does not override configuration: with `ALPACA_AUTH_MODE`
//! unset or credentials missing, trading stays off.

use crate::audit::AuditEvent;
use anyhow::Context;
use chrono::Utc;
use raptor_actors::broker::switch::{self, OperatorSwitch};
use serde_json::json;

use super::CliContext;

#[derive(clap::Subcommand)]
pub enum Command {
    /// Stop all trading on every dyno.
    Engage {
        /// Why, for the audit trail and the operators who come next (an incident reference).
        #[arg(long)]
        reason: String,
    },
    /// Allow trading again (configuration permitting).
    Release {
        /// Why, for the audit trail.
        #[arg(long)]
        reason: String,
    },
    /// Print the operator's switch as stored.
    Status,
}

pub async fn run(command: Command, ctx: &CliContext) -> anyhow::Result<()> {
    let (engaged, reason) = match command {
        Command::Engage { reason } => (true, reason),
        Command::Release { reason } => (false, reason),
        Command::Status => return status(ctx).await,
    };
    let reason = reason.trim();
    anyhow::ensure!(!reason.is_empty(), "--reason must say why");
    let change = OperatorSwitch {
        engaged,
        reason: reason.to_owned(),
        changed_by: "cli".to_owned(),
        changed_at: Utc::now(),
    };
    let mut client = ctx.pool.get().await.context("cannot reach the database")?;
    let tx = client.transaction().await?;
    switch::save(&tx, &change)
        .await
        .context("the kill switch could not be stored")?;
    let mut entry = AuditEvent::kill_switch(engaged).entry();
    entry.details = json!({ "reason": reason });
    ctx.audit(entry).await?;
    tx.commit()
        .await
        .context("the kill switch could not be stored")?;
    eprintln!(
        "kill switch {} on every dyno (reason: {reason})",
        if engaged { "engaged" } else { "released" }
    );
    if !engaged {
        eprintln!(
            "configuration still applies: trading needs ALPACA_AUTH_MODE=trading and credentials"
        );
    }
    Ok(())
}

async fn status(ctx: &CliContext) -> anyhow::Result<()> {
    let client = ctx.pool.get().await.context("cannot reach the database")?;
    match switch::load(&client).await? {
        Some(s) => println!(
            "{}",
            serde_json::to_string_pretty(&json!({
                "engaged": s.engaged,
                "reason": s.reason,
                "changed_by": s.changed_by,
                "changed_at": s.changed_at,
            }))?
        ),
        None => println!("{}", json!({ "engaged": false, "reason": null })),
    }
    Ok(())
}
