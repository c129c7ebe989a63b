//! `raptor dsr export --email E` and `raptor dsr erase --email E --reason R`: the operator's
//! side of GDPR requests (a person who asks by email rather than through the app).
//!
//! Each parses its arguments, calls one `crate::dsr` use case (the same the customer's routes
//! call) and prints the result. The use cases audit as operator actions naming the person by id
//! only: the export as `user.pii_access` (before anything is printed), the erasure as
//! `dsr.erase` with the reason. This process has no session store, so the erasure revokes the
//! sessions in SQL with the same notification every web dyno's store listens for.

use anyhow::Context;
use chrono::Utc;

use super::CliContext;
use crate::auth::Email;
use crate::dsr::{self, DataSubject, DsrDeps, EraseRequester, Erased, ExportRequester, Reason};
use crate::trading::erasure::Canceler;

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
    let audit = ctx.audit_client();
    let broker = crate::startup::wiring::broker_config(&ctx.settings);
    let deps = DsrDeps {
        pool: &ctx.pool,
        audit: &audit,
        sessions: None,
        canceler: Canceler::Direct(&broker),
        now: Utc::now(),
    };
    match command {
        Command::Export { email } => {
            let subject = subject(&email)?;
            let export = dsr::export(&deps, subject, ExportRequester::Operator).await?;
            println!("{}", serde_json::to_string_pretty(&export)?);
        }
        Command::Erase { email, reason } => {
            let reason = Reason::parse(&reason).context("--reason must say why")?;
            let subject = subject(&email)?;
            match dsr::erase_account(&deps, subject, EraseRequester::Operator(reason)).await? {
                Erased::Now {
                    user_id,
                    passkeys_removed,
                    sessions_ended,
                    purge_after,
                } => eprintln!(
                    "account {user_id} erased: {passkeys_removed} passkey(s) removed, \
                     {sessions_ended} session(s) ended on every dyno; purged after {}",
                    purge_after.to_rfc3339()
                ),
                Erased::AlreadyErased {
                    user_id,
                    deleted_at,
                    sessions_ended,
                } => eprintln!(
                    "account {user_id} was already erased on {}; {sessions_ended} leftover \
                     session(s) ended",
                    deleted_at.to_rfc3339(),
                ),
            }
        }
    }
    Ok(())
}

fn subject(raw: &str) -> anyhow::Result<DataSubject> {
    let email = Email::parse(raw).context("--email is not a valid address")?;
    Ok(DataSubject::Email(email))
}
