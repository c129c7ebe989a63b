//! `raptor recovery create --email E [--ttl 1h]`: a lost-passkey recovery link for a person who
//! contacted support (after the operator has checked who they are, out of band).
//!
//! The link is printed once on stdout and its token stored only as an HMAC; it supersedes the
//! account's unused recovery links. Audited first, as an operator action (`recovery.requested`
//! naming the account as subject): no stored token lacks its row.

use anyhow::Context;
use chrono::Utc;
use secrecy::ExposeSecret;

use super::CliContext;
use crate::auth::recovery_operator::{create_operator_link, LinkMaker};
use crate::auth::Email;

#[derive(clap::Subcommand)]
pub enum Command {
    /// Create a single-use recovery link for a verified account and print it once.
    Create {
        /// The account's address.
        #[arg(long)]
        email: String,
        /// How long the link works: a number followed by m, h or d (at most 7d).
        #[arg(long, default_value = "1h", value_parser = parse_ttl)]
        ttl: chrono::Duration,
    },
}

pub async fn run(command: Command, ctx: &CliContext) -> anyhow::Result<()> {
    let Command::Create { email, ttl } = command;
    let email = Email::parse(&email).context("--email is not a valid address")?;
    let (audit, hasher) = (ctx.audit_client(), ctx.hasher());
    let maker = LinkMaker {
        pool: &ctx.pool,
        audit: &audit,
        hasher: &hasher,
    };
    let link = create_operator_link(&maker, &email, ttl, Utc::now()).await?;
    eprintln!(
        "recovery link {} created for account {}; expires {}. It is shown only once:",
        link.token_id,
        link.user_id,
        link.expires_at.to_rfc3339(),
    );
    println!(
        "{}{}",
        crate::startup::wiring::recovery_link_base(&ctx.settings),
        link.token.expose_secret()
    );
    Ok(())
}

fn parse_ttl(raw: &str) -> Result<chrono::Duration, String> {
    let (number, unit) = raw.split_at(raw.len().saturating_sub(1));
    let n: i64 = number
        .parse()
        .map_err(|_| format!("{raw:?} is not like 30m, 2h or 1d"))?;
    let ttl = match unit {
        "m" => chrono::Duration::minutes(n),
        "h" => chrono::Duration::hours(n),
        "d" => chrono::Duration::days(n),
        _ => return Err(format!("{raw:?} is not like 30m, 2h or 1d")),
    };
    if n <= 0 || ttl > chrono::Duration::days(7) {
        return Err("the ttl must be between 1 minute and 7 days".into());
    }
    Ok(ttl)
}
