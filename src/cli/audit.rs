//! `raptor audit verify`: walks the audit trail's hash chain and reports the first broken link,
//! exiting non-zero, so tampering behind the application's back is detectable (SPEC §5).
//!
//! The chain walk trusts the oldest remaining row as its anchor, because audit retention removes
//! rows from the start of the chain. So that a prefix deleted by hand is not mistaken for
//! retention, the command also checks the anchor against what the retention job recorded it had
//! trimmed.

use anyhow::Context;
use raptor_actors::audit::chain::{self, ChainReport};

use super::CliContext;

#[derive(clap::Subcommand)]
pub enum Command {
    /// Check every row's hash and link; exit non-zero at the first broken one.
    Verify,
}

pub async fn run(command: Command, ctx: &CliContext) -> anyhow::Result<()> {
    let Command::Verify = command;
    let client = ctx.pool.get().await.context("cannot reach the database")?;
    let rows = match chain::verify(&client).await? {
        ChainReport::Intact { rows } => rows,
        ChainReport::Broken { seq, reason } => {
            anyhow::bail!("audit chain broken at seq {seq}: {reason}")
        }
    };
    let span = client
        .query_one("SELECT min(seq), max(seq) FROM audit_log", &[])
        .await?;
    let (first, last): (Option<i64>, Option<i64>) = (span.get(0), span.get(1));
    let (Some(first), Some(last)) = (first, last) else {
        println!("audit chain intact: no rows yet");
        return Ok(());
    };
    if first > 1 {
        let trimmed = crate::retention::audit_trimmed_through(&client).await?;
        if trimmed.is_none_or(|t| t < first - 1) {
            anyhow::bail!(
                "audit chain broken at seq {first}: rows before it were removed, but retention \
                 only trimmed through seq {}",
                trimmed.unwrap_or(0)
            );
        }
    }
    println!("audit chain intact: {rows} rows, seq {first} to {last}");
    Ok(())
}
