//! `raptor kill-switch engage|release --reason TEXT` and `raptor kill-switch status`: the
//! operator's kill switch from a one-off dyno (`heroku run raptor kill-switch engage …`).
//!
//! Both call the trading domain (`crate::trading::kill_switch::{set, status}`), as the API
//! route does: the change is audited as `kill_switch.engage` or `kill_switch.release` with
//! source `cli`, then stored with a notification that every web dyno's broker listens for, so
//! trading stops (or resumes) everywhere within a second. Releasing the operator's switch does
//! not override configuration: with `ALPACA_AUTH_MODE` unset or credentials missing, trading
//! stays off.

use anyhow::Context;
use raptor_actors::audit::{AppendError, AuditEntry};
use serde_json::json;

use super::CliContext;
use crate::audit::AuditEvent;
use crate::trading::kill_switch::{self, AuditTrail, SwitchChange, SwitchError};

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

/// The CLI's own audit writer, as the domain's audit trail.
impl AuditTrail for CliContext {
    async fn append(&self, entry: AuditEntry) -> Result<(), AppendError> {
        self.audit(entry).await.map_err(|error| {
            eprintln!("{error:#}");
            AppendError::NotDurable
        })
    }
}

pub async fn run(command: Command, ctx: &CliContext) -> anyhow::Result<()> {
    let (engaged, reason) = match command {
        Command::Engage { reason } => (true, reason),
        Command::Release { reason } => (false, reason),
        Command::Status => return status(ctx).await,
    };
    let change = SwitchChange {
        engaged,
        reason: reason.clone(),
        changed_by: "cli".to_owned(),
        source: "cli",
        at: chrono::Utc::now(),
        origin: AuditEvent::kill_switch(engaged).entry(),
    };
    match kill_switch::set(&ctx.pool, ctx, None, change).await {
        Ok(_) => {}
        Err(SwitchError::InvalidReason) => anyhow::bail!("--reason must say why"),
        Err(error) => return Err(error).context("the kill switch could not be changed"),
    }
    eprintln!(
        "kill switch {} on every dyno (reason: {})",
        if engaged { "engaged" } else { "released" },
        reason.trim()
    );
    if !engaged {
        eprintln!(
            "configuration still applies: trading needs ALPACA_AUTH_MODE=trading and credentials"
        );
    }
    Ok(())
}

async fn status(ctx: &CliContext) -> anyhow::Result<()> {
    let stored = kill_switch::status(&ctx.pool)
        .await
        .context("the kill switch cannot be read")?;
    match stored {
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
