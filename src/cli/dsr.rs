//! `raptor dsr export --email E` and `raptor dsr erase --email E --reason R`: the operator's
//! side of GDPR requests (a person who asks by email rather than through the app).
//!
//! Both are audited as operator actions naming the person by id only: the export as
//! `user.pii_access` (before anything is printed), the erasure as `dsr.erase` with the reason.
//! What is exported and erased is `crate::dsr`'s, shared with the customer's routes. This process
//! has no session store, so the erasure revokes the sessions in SQL with the same notification
//! every web dyno's store listens for.

use crate::audit::AuditEvent;
use anyhow::Context;
use chrono::Utc;
use serde_json::json;

use super::CliContext;
use crate::auth::Email;
use crate::dsr::{self, Erasure};

#[derive(clap::Subcommand)]
pub enum Command {
    /// Print everything held about the account as JSON (audited as `user.pii_access`).
    Export {
        /// The account's email address.
        #[arg(long)]
        email: String,
    },
    /// Erase the account now (sessions and passkeys at once); it is purged for good 30 days
    /// later.
    Erase {
        /// The account's email address.
        #[arg(long)]
        email: String,
        /// Why, for the audit trail: a ticket reference, not personal data.
        #[arg(long)]
        reason: String,
    },
}

pub async fn run(command: Command, ctx: &CliContext) -> anyhow::Result<()> {
    match command {
        Command::Export { email } => export(ctx, &email).await,
        Command::Erase { email, reason } => erase(ctx, &email, &reason).await,
    }
}

async fn subject(client: &deadpool_postgres::Client, raw: &str) -> anyhow::Result<dsr::Subject> {
    let email = Email::parse(raw).context("--email is not a valid address")?;
    dsr::find_by_email(client, &email)
        .await?
        .context("no account has this address")
}

async fn export(ctx: &CliContext, email: &str) -> anyhow::Result<()> {
    let client = ctx.pool.get().await.context("cannot reach the database")?;
    let subject = subject(&client, email).await?;
    let export = dsr::export(&client, subject.user_id, Utc::now())
        .await?
        .context("the account disappeared while it was read")?;
    let mut entry = AuditEvent::UserPiiAccess.entry();
    entry.subject = Some(subject.user_id.to_string());
    entry.details = json!({ "purpose": "dsr.export" });
    ctx.audit(entry).await?;
    println!("{}", serde_json::to_string_pretty(&export)?);
    Ok(())
}

async fn erase(ctx: &CliContext, email: &str, reason: &str) -> anyhow::Result<()> {
    let reason = reason.trim();
    anyhow::ensure!(!reason.is_empty(), "--reason must say why");
    let now = Utc::now();
    let mut client = ctx.pool.get().await.context("cannot reach the database")?;
    let subject = subject(&client, email).await?;
    let user_id = subject.user_id;
    let tx = client.transaction().await?;
    let (passkeys_removed, purge_after) = match dsr::erase(&tx, user_id, now).await? {
        Erasure::Erased {
            passkeys_removed,
            purge_after,
            ..
        } => (passkeys_removed, purge_after),
        Erasure::AlreadyErased { deleted_at } => {
            drop(tx);
            // A previous run may have stopped before the sessions were ended.
            let sessions = revoke_sessions(ctx, user_id).await?;
            eprintln!(
                "account {user_id} was already erased on {}; {sessions} leftover session(s) ended",
                deleted_at.to_rfc3339(),
            );
            return Ok(());
        }
        Erasure::NoSuchUser => anyhow::bail!("no account has this address"),
    };
    let mut entry = AuditEvent::DsrErase.entry();
    entry.subject = Some(user_id.to_string());
    entry.details = json!({
        "reason": reason,
        "passkeys_removed": passkeys_removed,
        "purge_after": purge_after,
    });
    ctx.audit(entry).await?;
    tx.commit().await?;
    let sessions = revoke_sessions(ctx, user_id).await?;
    eprintln!(
        "account {user_id} erased: {passkeys_removed} passkey(s) removed, {sessions} session(s) ended on every dyno; purged after {}",
        purge_after.to_rfc3339()
    );
    Ok(())
}

/// Ends every session of the account, announcing it to every web dyno.
async fn revoke_sessions(ctx: &CliContext, user_id: uuid::Uuid) -> anyhow::Result<usize> {
    raptor_actors::session::revoke(&ctx.pool, user_id, None, None, Utc::now())
        .await
        .map(|ids| ids.len())
        .map_err(|e| {
            anyhow::anyhow!(
                "the account is erased but its sessions could not be ended ({e}); run the command again"
            )
        })
}
